// Command forward accepts TCP connections on an address of its own
// network namespace and connects each to an address inside another
// namespace, given by its file (as /run/netns/NAME), copying bytes both
// ways until either side closes:
//
//	forward -listen 127.0.0.1:16443 -netns /run/netns/ebb-kube -to 127.0.0.1:6443
//
// It is how this machine's loopback reaches the test cluster's API server,
// which listens only inside the cluster's node namespace. It needs
// CAP_SYS_ADMIN (setns) and runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:16443", "`address` to listen on, in this namespace")
	nsPath := flag.String("netns", "", "`file` of the network namespace to connect into")
	to := flag.String("to", "127.0.0.1:6443", "`address` to connect to, inside -netns")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *listen, *nsPath, *to); err != nil {
		log.Fatal("forward: ", err)
	}
}

func run(ctx context.Context, listen, nsPath, to string) error {
	target, err := os.Open(nsPath)
	if err != nil {
		return err
	}
	defer target.Close()
	self, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), syscall.Gettid()))
	if err != nil {
		return err
	}
	defer self.Close()
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	go func() {
		<-ctx.Done()
		l.Close()
	}()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		go serve(ctx, c, target, self, to)
	}
}

// serve connects c to addr inside target, then copies both ways.
func serve(ctx context.Context, c net.Conn, target, self *os.File, addr string) {
	defer c.Close()
	d, err := dialIn(target, self, addr)
	if err != nil {
		log.Print("forward: ", err)
		return
	}
	defer d.Close()
	stop := context.AfterFunc(ctx, func() { c.Close(); d.Close() })
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		io.Copy(d, c)
		d.(*net.TCPConn).CloseWrite()
	}()
	io.Copy(c, d)
	c.(*net.TCPConn).CloseWrite()
	<-done
}

// dialIn connects to addr from inside the namespace target: the socket is
// made on a thread switched into target, and belongs to target for life.
// The thread is switched back to self; a thread that cannot be is left
// locked, so that it ends with this goroutine rather than serve others.
func dialIn(target, self *os.File, addr string) (net.Conn, error) {
	runtime.LockOSThread()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("setns %s: %w", target.Name(), err)
	}
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if errBack := setns(self); errBack != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("setns back: %w", errBack)
	}
	runtime.UnlockOSThread()
	return c, err
}

func setns(f *os.File) error {
	_, _, e := syscall.RawSyscall(sysSetns, f.Fd(), syscall.CLONE_NEWNET, 0)
	if e != 0 {
		return e
	}
	return nil
}
