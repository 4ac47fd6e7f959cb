package postgres

import (
	"github.com/pavilion-live/pavilion/internal/cohost"
	"github.com/pavilion-live/pavilion/internal/driver/sqlstore"
)

// Cohosts is the co-host store over this database, written once in
// sqlstore.
func (db *DB) Cohosts() cohost.Store { return sqlstore.NewCohostStore(db.conn.shared) }
