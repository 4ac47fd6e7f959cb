package sqlstore

import (
	"github.com/pavilion-live/pavilion/chat"
	"github.com/pavilion-live/pavilion/checkout"
	"github.com/pavilion-live/pavilion/internal/account"
	"github.com/pavilion-live/pavilion/internal/analytics"
	"github.com/pavilion-live/pavilion/internal/brand"
	"github.com/pavilion-live/pavilion/internal/show"
)

// Store is every domain store a SQL driver's DB implements, so that each
// driver checks it in one line.
type Store interface {
	account.Store
	account.ChangeLog
	brand.Store
	brand.Follows
	show.Store
	show.FollowerNotices
	checkout.Store
	checkout.Ledger
	checkout.CouponStore
	chat.Store
	chat.Archive
	analytics.Store
	analytics.ReplayStore
}
