// Command largefamilies is a data source plug-in for the Social Treasury
// platform: it answers whether persons are in a region's register of large
// families. See README.md.
package main

import "github.com/socialtreasury/treasury/sdk/serve"

func main() { serve.DataSource(fromEnv()) }
