package synthcall

import (
	"context"
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

func TestRenderPlacesTurns(t *testing.T) {
	if !Available() {
		t.Skip(ErrNoTools)
	}
	c, err := Render(context.Background(), []Turn{
		{Leg: msg.RoleAgent, AtMS: 0, Text: "thank you for calling"},
		{Leg: msg.RoleCustomer, AtMS: 3000, Text: "hello"},
	}, 500)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Legs[msg.RoleAgent]) != len(c.Legs[msg.RoleCustomer]) {
		t.Fatal("legs differ in length")
	}
	if len(c.Truth) != 2 || c.Truth[0].Leg != msg.RoleAgent || c.Truth[1].Leg != msg.RoleCustomer {
		t.Fatalf("truth = %+v", c.Truth)
	}
	a, b := c.Truth[0], c.Truth[1]
	if a.StartMS < 0 || a.StartMS > 200 || a.EndMS < 800 || a.EndMS > 2500 {
		t.Errorf("agent span %d-%d ms is not where espeak speaks four words", a.StartMS, a.EndMS)
	}
	if b.StartMS < 3000 || b.StartMS > 3200 {
		t.Errorf("customer starts at %d ms, placed at 3000", b.StartMS)
	}
	// The customer leg is silent where the agent speaks.
	for _, s := range c.Legs[msg.RoleCustomer][:8000*2] {
		if s != 0 {
			t.Fatal("customer leg not silent during the agent's turn")
		}
	}
}
