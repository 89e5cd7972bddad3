package storetest

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/earshot-dev/earshot/msg"
)

// Corpus describes a generated set of calls with contact-center talk, for
// benchmarks: Calls calls of SegmentsPerCall segments, agents and queues
// spread evenly, starts spread over Days days before End.
type Corpus struct {
	Seed            uint64
	Calls           int
	SegmentsPerCall int
	Agents, Queues  int
	Days            int
	End             time.Time
}

// Agent names agent i.
func Agent(i int) string { return fmt.Sprintf("agent-%03d", i) }

// Queue names queue i.
func Queue(i int) string { return queueNames[i%len(queueNames)] }

var queueNames = []string{"billing", "support", "sales", "retention", "claims", "returns", "technical", "accounts"}

var (
	agentLines = []string{
		"thank you for calling {company}, my name is {name}, how can I help you today",
		"can I have your account number please",
		"let me look into that for you, one moment please",
		"I understand your frustration and I apologize for the inconvenience",
		"I can see the {product} was shipped on {day}",
		"I have processed a refund of {amount} dollars to your card",
		"is there anything else I can help you with today",
		"I can offer you a {percent} percent discount on your next bill",
		"let me transfer you to a supervisor who can help",
		"your order number is {digits} and it should arrive by {day}",
		"I have escalated this to our {team} team",
		"can you confirm the email address on the account",
		"I will send you a confirmation email shortly",
		"the late fee has been waived as a courtesy",
		"I can cancel your subscription today, would you like to proceed",
		"unfortunately the warranty on the {product} has expired",
		"let me check the status of your claim",
		"I see there was a billing error on your last statement",
		"please hold while I verify your identity",
		"your new plan will start on the first of next month",
	}
	customerLines = []string{
		"hi, I'm calling about my {product}",
		"I want to cancel my subscription",
		"I was charged twice for the same order",
		"this is the third time I have called about this",
		"can I speak to a manager please",
		"the {product} stopped working after {n} days",
		"I never received my order",
		"why is my bill so high this month",
		"I would like a refund please",
		"that's great, thank you so much for your help",
		"I've been a loyal customer for {n} years",
		"okay, that works for me",
		"I'm really frustrated with the service",
		"can you explain this charge on my statement",
		"I want to upgrade my plan",
		"the delivery was late again",
		"no, that's all, thanks",
		"my internet keeps dropping every evening",
		"I need to update my billing address",
		"is there a cancellation fee if I leave",
	}
	fills = map[string][]string{
		"company": {"Acme", "Northwind", "Contoso", "Globex"},
		"name":    {"Sarah", "James", "Priya", "Miguel", "Chen", "Fatima"},
		"product": {"router", "phone", "laptop", "washing machine", "headset", "smart watch", "modem", "printer"},
		"day":     {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "the weekend"},
		"amount":  {"twenty", "forty five", "ninety nine", "one hundred and twenty"},
		"percent": {"ten", "fifteen", "twenty", "twenty five"},
		"team":    {"billing", "technical", "shipping", "fraud"},
		"n":       {"two", "three", "five", "ten", "twelve"},
		"digits":  {"A1234", "B7781", "C5520", "D9043"},
	}
)

// Each calls f for every call of the corpus, with its start event and
// segments, in order.
func (c Corpus) Each(f func(ev msg.CallEvent, segs []msg.StoredSegment) error) error {
	rng := rand.New(rand.NewPCG(c.Seed, 2026))
	span := time.Duration(c.Days) * 24 * time.Hour
	segs := make([]msg.StoredSegment, c.SegmentsPerCall)
	for i := range c.Calls {
		id := fmt.Sprintf("bench-%06d", i)
		start := c.End.Add(-span + time.Duration(rng.Int64N(int64(span)))).Truncate(time.Second)
		ev := msg.CallEvent{CallID: id, Kind: msg.CallStarted, Time: start, StartedAt: start,
			Agent: Agent(rng.IntN(c.Agents)), Queue: Queue(rng.IntN(c.Queues))}
		at := int64(0)
		for j := range segs {
			leg, lines := msg.RoleAgent, agentLines
			if j%2 == 1 {
				leg, lines = msg.RoleCustomer, customerLines
			}
			text := fill(rng, lines[rng.IntN(len(lines))])
			dur := int64(1500 + rng.IntN(6000))
			comp := rng.Float64()*2 - 1
			segs[j] = msg.StoredSegment{
				Segment: msg.Segment{ID: fmt.Sprintf("%s/%s/%d/0", id, leg, j/2+1), CallID: id, Leg: leg, Turn: j/2 + 1,
					StartMS: at, EndMS: at + dur, Text: text, Language: "en", Confidence: 0.9},
				Sentiment: &msg.Sentiment{Label: msg.Neutral, Compound: comp},
			}
			at += dur + int64(rng.IntN(1500))
		}
		if err := f(ev, segs); err != nil {
			return err
		}
	}
	return nil
}

func fill(rng *rand.Rand, line string) string {
	for {
		i := strings.IndexByte(line, '{')
		if i < 0 {
			return line
		}
		j := strings.IndexByte(line[i:], '}') + i
		opts := fills[line[i+1:j]]
		line = line[:i] + opts[rng.IntN(len(opts))] + line[j+1:]
	}
}
