// Command runnerbench measures the runner's overhead: it runs a graph of
// 10,000 no-op steps through the runner with its fsync'd journal, then has
// GNU make run a Makefile of the same shape whose recipes are a no-op command,
// and prints one Markdown table row with steps/s for both and their ratio.
//
//	go run ./test/bench/runnerbench [-header] [-width 100] [-layers 100] [-j 2] [-v]
package main
