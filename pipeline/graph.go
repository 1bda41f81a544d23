package pipeline

import (
	"time"
)

// Node is a stage as the dependency analysis sees it: its name, the
// stages it depends on and its (estimated or measured) work.
type Node struct {
	Name      string
	DependsOn []string
	Work      time.Duration
}

// graph is the dependency analysis of a set of nodes without cycles.
type graph struct {
	// order lists node indexes level by level, in input order within a
	// level; level[i] is node i's level, from 0.
	order []int
	level []int
	// finish[i] is the most work along any chain ending with node i;
	// rest[i] the most work along any chain starting with it.
	finish, rest []time.Duration
	// prev[i] is the dependency on the chain of finish[i], -1 for none.
	prev []int
}

// analyze orders nodes into levels and computes the longest chains. The
// nodes must name only each other and form no cycle.
func analyze(nodes []Node) *graph {
	n := len(nodes)
	index := make(map[string]int, n)
	for i, nd := range nodes {
		index[nd.Name] = i
	}
	g := &graph{level: make([]int, n), finish: make([]time.Duration, n), rest: make([]time.Duration, n), prev: make([]int, n)}
	placed := make([]bool, n)
	for len(g.order) < n {
		var next []int
		for i, nd := range nodes {
			if placed[i] {
				continue
			}
			ready, lvl := true, 0
			for _, d := range nd.DependsOn {
				j := index[d]
				if !placed[j] {
					ready = false
					break
				}
				lvl = max(lvl, g.level[j]+1)
			}
			if ready {
				g.level[i] = lvl
				next = append(next, i)
			}
		}
		if len(next) == 0 {
			panic("pipeline: analyze called on a graph with a cycle")
		}
		for _, i := range next {
			placed[i] = true
		}
		g.order = append(g.order, next...)
	}
	for _, i := range g.order {
		g.prev[i] = -1
		for _, d := range nodes[i].DependsOn {
			j := index[d]
			if g.prev[i] < 0 || g.finish[j] > g.finish[g.prev[i]] {
				g.prev[i] = j
			}
		}
		g.finish[i] = nodes[i].Work
		if g.prev[i] >= 0 {
			g.finish[i] += g.finish[g.prev[i]]
		}
	}
	for k := n - 1; k >= 0; k-- {
		i := g.order[k]
		g.rest[i] += nodes[i].Work
		for _, d := range nodes[i].DependsOn {
			j := index[d]
			g.rest[j] = max(g.rest[j], g.rest[i])
		}
	}
	return g
}

// critical returns the longest chain, first stage first, and its work.
func (g *graph) critical(nodes []Node) ([]string, time.Duration) {
	end := -1
	for _, i := range g.order {
		if end < 0 || g.finish[i] > g.finish[end] {
			end = i
		}
	}
	if end < 0 {
		return nil, 0
	}
	var path []string
	for i := end; i >= 0; i = g.prev[i] {
		path = append([]string{nodes[i].Name}, path...)
	}
	return path, g.finish[end]
}

// CriticalPath returns the chain of dependent nodes with the most work in
// total, first node first, and that total. Of chains with equal work it
// returns the one ending first in level order. The nodes must name only
// each other in DependsOn and form no cycle (a parsed File's stages do).
func CriticalPath(nodes []Node) ([]string, time.Duration) {
	return analyze(nodes).critical(nodes)
}
