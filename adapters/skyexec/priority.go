package skyexec

import (
	"errors"
	"syscall"
	"time"
)

// niceWeights is the Linux scheduler's weight of each nice value from 0 to 19
// (sched_prio_to_weight): a runnable thread gets CPU in proportion to its weight, and each
// step of nice is about 1.25 times less.
var niceWeights = [20]int{1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87, 70, 56, 45, 36, 29, 23, 18, 15}

// sessionNice is the nice value of each of runs scheduling groups that together weigh
// about as much as one at nice: the lowest value whose weight, times runs, is at most
// nice's weight, and 19 when none is that light. 0 stays 0: the runs keep skygate's
// priority.
func sessionNice(nice, runs int) int {
	if nice <= 0 {
		return 0
	}
	nice = min(nice, 19)
	budget := niceWeights[nice]
	for n := nice; n < 19; n++ {
		if niceWeights[n]*max(runs, 1) <= budget {
			return n
		}
	}
	return 19
}

// autogroupRetries bounds the attempts of niceOwnSession: at the kernel's one change per
// 100 ms, 600 attempts about 150 ms apart (90 s) let some 900 other changes through first,
// enough for the runs of any --max-sky-procs that start at once.
const autogroupRetries = 600

// retryWhileBusy calls change until it does not fail with EAGAIN, at most attempts
// times, waiting between attempts from 100 to 200 ms (spread by the attempt count and
// the process, so that processes retrying together do not keep colliding). It returns
// the last error.
func retryWhileBusy(change func() error, wait func(time.Duration), attempts int) error {
	spread := time.Duration(syscall.Getpid()%101) * time.Millisecond
	var err error
	for i := range attempts {
		if err = change(); !errors.Is(err, syscall.EAGAIN) {
			return err
		}
		if i < attempts-1 {
			wait(100*time.Millisecond + (spread+time.Duration(i*37)*time.Millisecond)%(100*time.Millisecond))
		}
	}
	return err
}
