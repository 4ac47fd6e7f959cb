// Package checkout owns what is sold and how: the catalogue (products, SKUs,
// stock), show offers and flash drops, the stock gate in front of the ledger,
// reservations with expiry, orders, payments through a provider, and
// idempotency of reserve and place-order. Service is the one API behind the
// HTTP routes, the live room's buy button and the command line, with the same
// rules for each. It defines the Store, Ledger, Gate and Payments it needs
// and never imports a driver.
package checkout
