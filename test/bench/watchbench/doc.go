// Command watchbench measures how soon `fleetplan watch` answers a save: the
// time from an editor's atomic save of a plan file to the start of its
// re-plan (the watcher's "plan" line, by its own timestamp), over many
// saves, in a repository of a given number of plan files. The baseline,
// measured in the same run on the same file, is a bare fsnotify watcher:
// the time the kernel takes to report the same save. The watcher's own
// share is what it adds beyond its debounce. It prints one Markdown table
// row.
//
//	go run ./test/bench/watchbench [-header] [-saves 200] [-files 1] [-debounce 100ms] [-bin PATH]
package main
