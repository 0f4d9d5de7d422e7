package api

import (
	"errors"
	"testing"
)

// A node streams one export per user and maxExports in all; a slot comes
// back when its export ends, once however often it is released.
func TestExportSlots(t *testing.T) {
	e := newExportSlots(2)
	r1, err := e.take(1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.take(1); !errors.Is(err, errExportBusy) {
		t.Fatalf("a second export of user 1 at once: %v; want busy", err)
	}
	r2, err := e.take(2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.take(3); !errors.Is(err, errExportBusy) {
		t.Fatalf("a third export on a node of two slots: %v; want busy", err)
	}
	r1()
	r1()
	r3, err := e.take(3)
	if err != nil {
		t.Fatalf("after one ended: %v", err)
	}
	if _, err := e.take(1); !errors.Is(err, errExportBusy) {
		t.Fatalf("a release twice gave back two slots: %v", err)
	}
	r2()
	r3()
	if _, err := e.take(1); err != nil {
		t.Fatalf("after all ended: %v", err)
	}
}
