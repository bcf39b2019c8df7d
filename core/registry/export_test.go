package registry

// SetAnalyzeEvery lowers the growth after which an import refreshes the
// statistics, for a test; it returns the undo.
func SetAnalyzeEvery(n int64) func() {
	old := analyzeEvery
	analyzeEvery = n
	return func() { analyzeEvery = old }
}
