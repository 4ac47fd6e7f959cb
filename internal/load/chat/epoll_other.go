//go:build !linux

package chat

import (
	"errors"
	"net"
	"time"
)

// --reader epoll needs Linux's epoll: elsewhere pavload reads each viewer
// with a goroutine (--reader goroutine).

const rawReaderSupported = false

var errNoEpoll = errors.New("--reader epoll needs Linux")

type rawLink struct{}

func (*rawLink) writeText([]byte, time.Time) error { return errNoEpoll }

type pollers []struct{}

func newPollers(*chatRun, int) (pollers, error) { return nil, errNoEpoll }

func (pollers) adopt(*viewer, net.Conn, []byte) error { return errNoEpoll }

func (pollers) closeAll(*chatRun, time.Duration) {}
