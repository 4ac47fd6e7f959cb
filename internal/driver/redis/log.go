package redis

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	goredis "github.com/redis/go-redis/v9"
)

// slogLogger hands go-redis's own log lines (reconnects, pool trouble) to
// slog, so a node started with --log-format json writes JSON only.
type slogLogger struct{ log *slog.Logger }

func (l slogLogger) Printf(ctx context.Context, format string, v ...any) {
	l.log.WarnContext(ctx, strings.TrimSpace(fmt.Sprintf(format, v...)), "component", "redis")
}

// SetLogger routes the Redis client's log through log. go-redis keeps one
// logger for the whole process, so cmd calls this once at start.
func SetLogger(log *slog.Logger) {
	goredis.SetLogger(slogLogger{log: log})
}
