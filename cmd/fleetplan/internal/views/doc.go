// Package views renders what the fleetplan commands show, for people (text,
// markdown, tables) and for programs (JSON), and decides the exit status a
// result means. Commands gather data and call one view method; they hold no
// formatting of their own. Only main turns the errors views return into exit
// codes and hints.
package views
