// Package traffic holds the traffic-manager actions: adding and removing
// endpoints, taking them online or offline, and switching which endpoint
// serves.
package traffic
