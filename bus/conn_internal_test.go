package bus

import "testing"

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"2.10.0", true}, {"2.10.22", true}, {"2.11.0-RC.1", true}, {"v2.12.1", true}, {"3.0.0", true},
		{"2.9.10", false}, {"2.9.25", false}, {"2.2.0", false}, {"1.4.1", false}, {"", false}, {"2.10.0-beta.3", true},
	} {
		if got := versionAtLeast(tc.v, MinServerVersion); got != tc.want {
			t.Errorf("versionAtLeast(%q, %s) = %v, want %v", tc.v, MinServerVersion, got, tc.want)
		}
	}
}
