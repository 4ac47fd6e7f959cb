// Package checkout owns what is sold and how: the catalogue (products, SKUs,
// stock), show offers, and — as issue 3 lands — the stock gate, reservations
// with expiry, orders, payments and idempotency. It defines the Store it
// needs and never imports a driver.
//
// Status: the catalogue and offers exist (issue 2); reservations, orders and
// payments are issue 3.
package checkout
