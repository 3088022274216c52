// Package app holds the application-slot actions: deploying a version that
// points at a database, and removing a slot.
package app
