// Bench task (n): the Go twin of attach-loop.c, for the per-hit cost of a
// return probe on a Go function. Calls main.hit(i) N times and prints the
// loop's own elapsed time (start-up and exit are not in it):
//
//	go-loop N        prints "<N> <elapsed ns> <checksum>"
//
// hit is noinline, so every iteration is a real call under Go's register
// ABI, returning through its own RET.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"
)

//go:noinline
func hit(i int) int {
	return i ^ (i >> 3)
}

func main() {
	n := 2000000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	sum := 0
	start := time.Now()
	for i := 0; i < n; i++ {
		sum += hit(i)
	}
	fmt.Println(n, time.Since(start).Nanoseconds(), sum)
}
