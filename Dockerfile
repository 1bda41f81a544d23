# jetmr in a container: `docker build -t jetmr .`, then
# `docker run jetmr worker --nats nats://TOKEN@HOST:4222`.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/jetmr ./cmd/jetmr

# Debian rather than scratch: pipe and mapreduce jobs run commands
# (sh, tr, awk, ...) on the workers. It runs as root so that it can write
# to a bind-mounted ./data whatever its owner; pass --user to docker run
# (user: in compose) to run as someone else.
FROM debian:bookworm-slim
COPY --from=build /out/jetmr /usr/local/bin/jetmr
WORKDIR /data
ENTRYPOINT ["jetmr"]
CMD ["--help"]
