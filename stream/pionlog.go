package stream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/pion/logging"
)

// pionLogs hands pion's own log lines to slog (pion otherwise prints plain
// text to stdout), so a node started with --log-format json writes JSON only.
// pion asks for a logger per scope of every connection (a dozen a viewer);
// the loggers are kept by scope, a fixed set of names, so a join does not
// build a dozen slog handlers.
type pionLogs struct {
	log    *slog.Logger
	scopes sync.Map // scope → pionLogger
}

func (f *pionLogs) NewLogger(scope string) logging.LeveledLogger {
	if l, ok := f.scopes.Load(scope); ok {
		return l.(pionLogger)
	}
	l, _ := f.scopes.LoadOrStore(scope, pionLogger{log: f.log.With("component", "pion", "scope", scope)})
	return l.(pionLogger)
}

// pionLogger maps pion's levels onto slog's. Pion printed only errors
// before; its info and warning lines are per peer (ICE state changes, a
// lost packet) and stay at debug so a busy node's log is not flooded.
type pionLogger struct{ log *slog.Logger }

func (l pionLogger) at(level slog.Level, msg string) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, msg)
	}
}

func (l pionLogger) atf(level slog.Level, format string, args ...any) {
	if l.log.Enabled(context.Background(), level) {
		l.log.Log(context.Background(), level, fmt.Sprintf(format, args...))
	}
}

func (l pionLogger) Trace(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Tracef(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Debug(msg string)                  { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Debugf(format string, args ...any) { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Info(msg string)                   { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Infof(format string, args ...any)  { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Warn(msg string)                   { l.at(slog.LevelDebug, msg) }
func (l pionLogger) Warnf(format string, args ...any)  { l.atf(slog.LevelDebug, format, args...) }
func (l pionLogger) Error(msg string)                  { l.at(slog.LevelError, msg) }
func (l pionLogger) Errorf(format string, args ...any) { l.atf(slog.LevelError, format, args...) }
