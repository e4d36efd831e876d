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

// The identity's source: the last --map for external_id or reference_id;
// the report's identity column only when that source is one column.
func TestIdentitySource(t *testing.T) {
	tests := []struct {
		maps, columns []string
		mapping, col  string
	}{
		{nil, []string{"external_id", "name"}, `column "external_id"`, "external_id"},
		{nil, []string{"reference_id", "name"}, `column "external_id"`, "reference_id"},
		{[]string{"external_id=user_id"}, nil, `column "user_id"`, "user_id"},
		{[]string{"reference_id=a", "external_id= b "}, nil, `column "b"`, "b"},
		{[]string{"reference_id={First} {Last}"}, []string{"First", "Last"}, `column "{First} {Last}"`, "external_id"},
	}
	for _, tc := range tests {
		if got := identityMapping(tc.maps); got != tc.mapping {
			t.Errorf("identityMapping(%q) = %s, want %s", tc.maps, got, tc.mapping)
		}
		if got := identityColumn(tc.maps, tc.columns); got != tc.col {
			t.Errorf("identityColumn(%q, %q) = %s, want %s", tc.maps, tc.columns, got, tc.col)
		}
	}
}
