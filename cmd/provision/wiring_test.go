package main

import "testing"

// The state is bound to the org a target names: the same org written two
// ways is one target, another host or workspace is another.
func TestTargetOf(t *testing.T) {
	tests := []struct {
		a, wa, b, wb string
		same         bool
	}{
		{"https://api.anthropic.com", "", "HTTPS://API.Anthropic.com/", "", true},
		{"https://api.anthropic.com", "", "https://api.anthropic.com?x=1", "", true},
		{"https://api.anthropic.com", "", "http://127.0.0.1:8080", "", false},
		{"https://api.anthropic.com", "wrkspc_1", "https://api.anthropic.com", "", false},
		{"https://api.anthropic.com", "wrkspc_1", "https://api.anthropic.com", "wrkspc_2", false},
		{"https://api.anthropic.com", "wrkspc_1", "https://api.anthropic.com/", "wrkspc_1", true},
	}
	for _, tc := range tests {
		a, b := targetOf(tc.a, tc.wa), targetOf(tc.b, tc.wb)
		if (a == b) != tc.same {
			t.Errorf("%q and %q: same %v, want %v", a, b, a == b, tc.same)
		}
	}
}
