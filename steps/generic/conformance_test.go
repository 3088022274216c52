package generic

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fleetplan/fleetplan/steps/stepstest"
	"github.com/fleetplan/fleetplan/stepspec"
)

func TestConformance(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("fine")) }))
	defer srv.Close()
	stepstest.Run(t,
		stepstest.Case{Spec: stepspec.Noop{}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.Wait{Until: "true"}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.Approve{Required: true, Message: "go"}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.HTTP{URL: srv.URL, ExpectStatus: 200}, Effect: stepstest.NeverLive, Undo: stepstest.NoRollback},
		stepstest.Case{Spec: stepspec.Exec{Command: "touch made", Creates: "made"}, Undo: stepstest.NoRollback},
	)
}
