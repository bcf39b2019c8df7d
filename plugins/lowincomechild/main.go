// Command lowincomechild is region 66's low-income child allowance
// (tenants/66-sverdlovsk/measures/low_income_child.json) written as a
// plug-in: the same six conditions, amount and period as the rules. The
// platform's `treasury bench plugin` runs both over one registry and
// checks that they find the same people; it is also a small example of a
// measure plug-in.
package main

import "github.com/socialtreasury/treasury/sdk/serve"

func main() { serve.Measure(lowIncomeChild{}) }
