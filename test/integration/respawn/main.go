// Command respawn is PID 1 of the integration image: it runs skygate and starts it again
// whenever it ends, the way a process supervisor (systemd, a pod's kubelet) restarts a
// crashed service without touching the rest of the machine. skygate's own sky supervisors
// are re-parented to it and live on across skygate's restarts, as they would on a host.
//
// Signals: SIGUSR1 kills skygate with SIGKILL, SIGUSR2 sends it SIGTERM (a deploy); either
// way it is started again. SIGTERM and SIGINT are passed on and end respawn too. When
// skygate ends by itself (a refused configuration), respawn ends with its exit status.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: respawn COMMAND [ARG...]")
		os.Exit(2)
	}
	signals := make(chan os.Signal, 8)
	signal.Notify(signals, syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for {
		cmd := exec.Command(os.Args[1], os.Args[2:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Start(); err != nil {
			fmt.Fprintln(os.Stderr, "respawn:", err)
			os.Exit(1)
		}
		child := cmd.Process.Pid
		exited, stopping, restart := false, false, false
		status := 0
		for !exited {
			switch <-signals {
			case syscall.SIGUSR1:
				restart = true
				_ = syscall.Kill(child, syscall.SIGKILL)
			case syscall.SIGUSR2:
				restart = true
				_ = syscall.Kill(child, syscall.SIGTERM)
			case syscall.SIGTERM, syscall.SIGINT:
				stopping = true
				_ = syscall.Kill(child, syscall.SIGTERM)
			}
			// Reap every child that ended: skygate, and orphans re-parented to PID 1.
			for {
				var ws syscall.WaitStatus
				pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
				if pid <= 0 || err != nil {
					break
				}
				if pid == child {
					exited, status = true, ws.ExitStatus()
				}
			}
		}
		if stopping || !restart {
			os.Exit(status)
		}
		fmt.Fprintln(os.Stderr, "respawn: skygate ended; starting it again")
		time.Sleep(200 * time.Millisecond)
	}
}
