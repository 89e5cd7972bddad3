package sentiment

import (
	"testing"

	"github.com/earshot-dev/earshot/msg"
)

// koreanContactCenterTurns are Korean call-center turns, written as a
// transcriber writes them, with the label a quality analyst would give them:
// complaints, thanks, plain requests and information (neutral), polite
// refusals (negative: the turn refuses what the caller asked for), and the
// churn and escalation requests (해지, 환불, 상담원 바꿔 주세요) and repeat
// calls that the English turns have too.
var koreanContactCenterTurns = []struct{ text, label string }{
	// Complaints, churn, escalation, repeat calls.
	{"너무 화가 나요. 해지해 주세요.", msg.Negative},
	{"해지하고 싶어요.", msg.Negative},
	{"인터넷 해지 신청하려고요.", msg.Negative},
	{"환불해 주세요.", msg.Negative},
	{"결제한 거 환불 받고 싶어요.", msg.Negative},
	{"상담원 바꿔 주세요.", msg.Negative},
	{"책임자 바꿔 주세요.", msg.Negative},
	{"이번이 세 번째 전화예요.", msg.Negative},
	{"벌써 세 번째 전화하는 거예요.", msg.Negative},
	{"한 시간째 기다리고 있어요.", msg.Negative},
	{"아직도 안 돼요.", msg.Negative},
	{"업데이트 이후로 앱이 안 돼요.", msg.Negative},
	{"요금이 두 번 청구됐어요.", msg.Negative},
	{"아무도 다시 연락을 안 줬어요.", msg.Negative},
	{"정말 어이가 없네요.", msg.Negative},
	{"짜증나 죽겠어요.", msg.Negative},
	{"민원 넣을 거예요.", msg.Negative},
	{"서비스가 너무 불친절해요.", msg.Negative},
	{"인터넷이 계속 끊겨요.", msg.Negative},
	{"이게 말이 됩니까?", msg.Negative},
	// Polite refusals.
	{"죄송하지만 환불은 어렵습니다.", msg.Negative},
	{"죄송합니다만 규정상 처리가 불가능합니다.", msg.Negative},
	// Thanks and good outcomes.
	{"감사합니다.", msg.Positive},
	{"정말 감사합니다, 덕분에 해결됐어요.", msg.Positive},
	{"친절하게 안내해 주셔서 고맙습니다.", msg.Positive},
	{"네, 이제 잘 돼요.", msg.Positive},
	{"빠르게 처리해 주셔서 감사해요.", msg.Positive},
	{"도와주셔서 정말 고마워요.", msg.Positive},
	{"좋은 하루 보내세요.", msg.Positive},
	{"문제가 해결돼서 다행이에요.", msg.Positive},
	{"전화 주셔서 감사합니다, 무엇을 도와드릴까요?", msg.Positive},
	// Information and plain requests.
	{"안녕하세요.", msg.Neutral},
	{"네.", msg.Neutral},
	{"네, 맞습니다.", msg.Neutral},
	{"잠시만요.", msg.Neutral},
	{"잠시만 기다려 주세요.", msg.Neutral},
	{"주소 확인해 드릴게요.", msg.Neutral},
	{"고객님 성함이 어떻게 되세요?", msg.Neutral},
	{"생년월일 말씀해 주시겠어요?", msg.Neutral},
	{"카드 번호 뒷자리 네 자리 불러 주세요.", msg.Neutral},
	{"아니요, 다른 계정이요.", msg.Neutral},
	{"확인해 보겠습니다.", msg.Neutral},
	{"요금제 변경하고 싶은데요.", msg.Neutral},
}

func TestKoreanContactCenterTurns(t *testing.T) {
	k, err := NewKorean()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range koreanContactCenterTurns {
		if s := k.Score(c.text); s.Label != c.label {
			t.Errorf("%q is %s (compound %.3f), want %s", c.text, s.Label, s.Compound, c.label)
		}
	}
}
