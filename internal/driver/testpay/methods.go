package testpay

// labels names each test token the way a wallet shows a saved card: brand
// and last four digits, never the number.
var labels = map[string]string{
	TokenSuccess:      "Visa •••• 4242",
	TokenDeclined:     "Visa •••• 0002",
	TokenInsufficient: "Visa •••• 9995",
	TokenSlow:         "Visa •••• 3220",
	TokenTimeout:      "Visa •••• 0119",
}

// Reusable answers the token a test card stands for, as the reference a
// wallet may keep, and its label. A real processor answers a saved payment
// method's id here; a card number itself is never a reference.
func Reusable(tokenOrCard string) (ref, label string, ok bool) {
	ref = Normalize(tokenOrCard)
	label, ok = labels[ref]
	return ref, label, ok
}

// Reusable is the package function, for the wallet's Methods interface.
func (p *Provider) Reusable(tokenOrCard string) (ref, label string, ok bool) {
	return Reusable(tokenOrCard)
}
