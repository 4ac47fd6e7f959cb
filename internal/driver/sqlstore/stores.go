package sqlstore

// Stores are the stores written once here, over one driver's Conn. A
// driver's DB embeds them beside the few stores it writes itself.
type Stores struct {
	UserStore
	CredentialStore
	BrandStore
	FollowStore
	NoticeStore
	SubscriptionStore
	PinStore
	ShowStore
	ShowWriter
	CatalogStore
	CatalogWriter
	CouponStore
	LedgerReader
	OrderWriter
	DrawStore
	WalletStore
	ModerationStore
	ArchiveStore
	ReplayStore
	ImageStore
	AnalyticsReader
	AnalyticsWriter
	BankStore
}

// NewStores is every shared store over c; the list queries a dialect
// spells are built here, once.
func NewStores(c *Conn) Stores {
	return Stores{
		UserStore: UserStore{c}, CredentialStore: CredentialStore{c}, BrandStore: BrandStore{c},
		FollowStore: FollowStore{c}, NoticeStore: NoticeStore{c}, SubscriptionStore: SubscriptionStore{c}, PinStore: PinStore{c},
		ShowStore: ShowStore{c}, ShowWriter: ShowWriter{c}, CatalogStore: CatalogStore{c}, CatalogWriter: CatalogWriter{c}, CouponStore: CouponStore{c},
		LedgerReader: LedgerReader{c}, OrderWriter: OrderWriter{c}, DrawStore: DrawStore{c}, WalletStore: WalletStore{c},
		ModerationStore: ModerationStore{c}, ArchiveStore: ArchiveStore{c}, ReplayStore: ReplayStore{c},
		ImageStore: ImageStore{c}, AnalyticsReader: AnalyticsReader{db: c, q: c.Dialect.Replay()}, AnalyticsWriter: AnalyticsWriter{c},
		BankStore: BankStore{db: c, q: c.Dialect.Bank()},
	}
}

// Ledger is the ledger's reads over c, for a driver's own ledger writes
// that read back a row (a key a concurrent claim stored first).
func (c *Conn) Ledger() LedgerReader { return LedgerReader{c} }
