package sqlserver

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/fleetplan/fleetplan/fleet"
)

// TestOpenNeverShowsTheSecret opens targets whose servers fail in the ways a
// real one can (nothing listening, a connection dropped at once) with a
// planted password, and looks for the secret in every text the failure
// produces.
func TestOpenNeverShowsTheSecret(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close() // a reset during prelogin
		}
	}()
	dropPort := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := strconv.Itoa(closed.Addr().(*net.TCPAddr).Port)
	closed.Close()

	for what, port := range map[string]string{"connection dropped": dropPort, "nothing listening": closedPort} {
		t.Run(what, func(t *testing.T) {
			opts := map[string]string{"server": "127.0.0.1", "port": port, "connectTimeout": "3s", "encrypt": "disable",
				"auth.user": "fleetplan", "auth.password": plantedSecret}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			tg, err := fleet.Open(ctx, target(opts))
			if err == nil {
				tg.Close()
				t.Fatal("opened a server that is not there")
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), fleet.HintOf(err)} {
				assertNoSecret(t, "open error", s)
			}
			if !fleet.IsTransient(err) {
				t.Errorf("a server that cannot be reached is transient: %v", err)
			}
		})
	}
}
