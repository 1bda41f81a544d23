package broker_test

import "github.com/nats-io/nats.go/jetstream"

func jsMsgID(id string) jetstream.PublishOpt { return jetstream.WithMsgID(id) }
