package siprec

import (
	"regexp"

	"github.com/earshot-dev/earshot/msg"
)

// roles gives each participant (by id) a role: agent when its AoR or name
// matches the agent rule, and the others customer; when no participant
// matches, the SRC's direction hint (an extension "direction": inbound
// puts the caller, the first participant, as the customer; outbound as
// the agent); without one, a and b in the metadata's order.
func roles(m *Metadata, agent *regexp.Regexp) map[string]msg.Role {
	out := map[string]msg.Role{}
	matched := false
	if agent != nil {
		for _, p := range m.Participants {
			if agent.MatchString(p.AoR) || agent.MatchString(p.Name) {
				out[p.ID], matched = msg.RoleAgent, true
			}
		}
	}
	if matched {
		for _, p := range m.Participants {
			if out[p.ID] == "" {
				out[p.ID] = msg.RoleCustomer
			}
		}
		return out
	}
	first, rest := msg.RoleA, msg.RoleB
	switch m.direction() {
	case "inbound", "incoming":
		first, rest = msg.RoleCustomer, msg.RoleAgent
	case "outbound", "outgoing":
		first, rest = msg.RoleAgent, msg.RoleCustomer
	}
	for i, p := range m.Participants {
		out[p.ID] = rest
		if i == 0 {
			out[p.ID] = first
		}
	}
	return out
}
