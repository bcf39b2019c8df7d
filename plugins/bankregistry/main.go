// Command bankregistry is a payment sink plug-in for the Social Treasury
// platform: it writes the payment orders it is given into registry files
// for the region's bank. See README.md.
package main

import "github.com/socialtreasury/treasury/sdk/serve"

func main() { serve.PaymentSink(fromEnv()) }
