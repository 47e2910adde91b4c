// goapp: the Go program of probec's Go return-probe tests (issue 12),
// built by the tests with Debian's golang-go (test/attach/go/build.ts).
//
//	goapp STATUS CALLS GOROUTINES
//
// It speaks the handshake of test/attach/fixtures/fixture.h: "ready" on
// STATUS once, then one round per SIGUSR1, closed by the line
// "round R calls N". A round runs main.work until CALLS calls of it have
// returned, spread over GOROUTINES fresh goroutines (fresh: their stacks
// start small and are grown, i.e. copied, by the deep calls), and writes
// one line per returned call to STATUS.calls before the closing line:
//
//	id depth result inner outer name
//
// inner is the nanoseconds work measured inside itself, outer what its
// caller measured around the call: a probe's latency lies between them.
// Every frame of the recursion is a call. Some calls return early, some
// recover a panic and return, and some are unwound by a panic that their
// goroutine's loop recovers: those never return, and are not written.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// record is what one returned call of work writes.
type record struct {
	id, depth, result int
	inner, outer      time.Duration
	name              string
}

// log is one goroutine's records.
type log struct{ records []record }

// unwound is the panic value recovered by the goroutine loop, not by work.
type unwound struct{ id int }

// work recurses depth times; every frame pads the stack by 512 bytes, so a
// deep call grows (copies) its goroutine's stack while outer frames wait.
//
//go:noinline
func work(id int, name string, depth int, out *log) (result int) {
	start := time.Now()
	var pad [512]byte
	pad[depth%len(pad)] = byte(id)
	if id%5 == 1 && depth == 0 {
		// An early return: its own RET.
		out.records = append(out.records, record{id, depth, -1, time.Since(start), 0, name})
		return -1
	}
	if depth == 0 {
		if id%7 == 3 {
			// A panic work recovers itself: the function still returns, through deferreturn.
			defer func() {
				if recover() != nil {
					result = 1000 + id
					out.records = append(out.records, record{id, depth, result, time.Since(start), 0, name})
				}
			}()
			boom(id, false)
		}
		if id%11 == 5 {
			// A panic that unwinds every frame of this call: none of them returns.
			boom(id, true)
		}
		result = id*3 + len(name)
		out.records = append(out.records, record{id, depth, result, time.Since(start), 0, name})
		return result
	}
	before := time.Now()
	inner := work(id, name, depth-1, out)
	out.records[len(out.records)-1].outer = time.Since(before)
	result = inner + int(pad[depth%len(pad)]&1) + depth
	out.records = append(out.records, record{id, depth, result, time.Since(start), 0, name})
	return result
}

//go:noinline
func boom(id int, unwind bool) {
	if unwind {
		panic(unwound{id})
	}
	panic(fmt.Sprintf("boom %d", id))
}

// Counter has a method with a pointer receiver: main.(*Counter).Add. It
// returns the running total, so each call's result is distinct.
type Counter struct {
	mu    sync.Mutex
	total int
}

//go:noinline
func (c *Counter) Add(n int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.total += n
	return c.total
}

// depthOf is deterministic: mostly shallow calls, every 40th one deep.
func depthOf(id int) int {
	if id%40 == 0 {
		return 120 + id%60
	}
	return id % 4
}

// runCall runs one top-level call and recovers what unwinds it; returns the frames that returned.
func runCall(id int, out *log) {
	name := "job-" + strconv.Itoa(id) + "-" + string(rune('a'+id%26))
	if id%13 == 6 {
		// An empty string: length 0, and a pointer that need not point anywhere.
		name = ""
	}
	before := time.Now()
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(unwound); !ok {
				panic(r)
			}
		}
	}()
	work(id, name, depthOf(id), out)
	out.records[len(out.records)-1].outer = time.Since(before)
}

// frames is how many calls of work return for a top-level call id.
func frames(id int) int {
	if id%11 == 5 && !(id%5 == 1) && !(id%7 == 3) {
		return 0
	}
	return depthOf(id) + 1
}

func round(calls, goroutines int, next *int, counter *Counter) []*log {
	// Assign ids until `calls` frames will return.
	var ids []int
	for total := 0; total < calls; *next++ {
		n := frames(*next)
		if total+n > calls {
			continue
		}
		ids = append(ids, *next)
		total += n
	}
	logs := make([]*log, goroutines)
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		logs[g] = &log{}
		wg.Add(1)
		// A closure, main.round.func1, run by its own goroutine; arg0 is g.
		go func(g int) {
			defer wg.Done()
			for i := g; i < len(ids); i += goroutines {
				runCall(ids[i], logs[g])
				counter.Add(1)
				if i%64 == 0 {
					// Pace the round so that the tracer's reader keeps up.
					time.Sleep(time.Millisecond)
				}
			}
		}(g)
	}
	wg.Wait()
	return logs
}

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: goapp STATUS CALLS GOROUTINES")
		os.Exit(2)
	}
	calls, _ := strconv.Atoi(os.Args[2])
	goroutines, _ := strconv.Atoi(os.Args[3])
	status, err := os.OpenFile(os.Args[1], os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGTERM, syscall.SIGINT)
	fmt.Fprintln(status, "ready")
	next := 1
	counter := &Counter{}
	for r := 1; ; r++ {
		if s := <-signals; s != syscall.SIGUSR1 {
			return
		}
		logs := round(calls, goroutines, &next, counter)
		f, err := os.Create(os.Args[1] + ".calls")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		w := bufio.NewWriter(f)
		n := 0
		for _, l := range logs {
			for _, c := range l.records {
				fmt.Fprintf(w, "%d %d %d %d %d %s\n", c.id, c.depth, c.result, c.inner.Nanoseconds(), c.outer.Nanoseconds(), c.name)
				n++
			}
		}
		w.Flush()
		f.Close()
		fmt.Fprintf(status, "round %d calls %d adds %d\n", r, n, counter.total)
	}
}
