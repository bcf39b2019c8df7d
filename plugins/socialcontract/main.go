// Command socialcontract is a region's measure plug-in: the social
// contract, whose individual plan is beyond the platform's rules.
package main

import "github.com/socialtreasury/treasury/sdk/serve"

func main() { serve.Measure(socialContract{}) }
