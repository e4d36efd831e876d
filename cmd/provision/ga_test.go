package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The GA contract end to end: each sample config of samples/ over its
// sample export, every stored field checked on the emulator; the seed's
// rows under GA; a state filled under the seed serving GA; and the mapping
// mistakes that must stop before the first request.

// gaStored is a profile as GET /_emulator/profiles gives it, decoded here
// rather than through profile.Profile so that the check does not lean on
// the code it checks.
type gaStored struct {
	ID           string            `json:"id"`
	ExternalID   *string           `json:"external_id"`
	Name         *string           `json:"name"`
	Relationship string            `json:"relationship"`
	AccessType   *string           `json:"access_type"`
	Metadata     map[string]string `json:"metadata"`
	Details      struct {
		ReferenceID   *string `json:"reference_id"`
		Country       *string `json:"country"`
		EmailHash     *string `json:"email_hash"`
		NameHash      *string `json:"name_hash"`
		OnboardedAt   *string `json:"onboarded_at"`
		AccountStatus *string `json:"account_status"`
		EntityType    *string `json:"entity_type"`
	} `json:"external_user_details"`
}

func gaProfiles(t *testing.T, e *emu) []gaStored {
	t.Helper()
	var ps []gaStored
	e.getJSON(t, "/_emulator/profiles", &ps)
	return ps
}

// gaEmailHash is the email_hash the README promises: the lower-case hex
// SHA-256 of the address trimmed and lower-cased.
func gaEmailHash(addr string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(addr))))
	return hex.EncodeToString(sum[:])
}

// gaNameHash is sha256() of a --map: the lower-case hex SHA-256 of the
// value with its spaces tidied and lower-cased.
func gaNameHash(name string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.Join(strings.Fields(name), " "))))
	return hex.EncodeToString(sum[:])
}

// gaWant is what the emulator must hold for one valid row. An empty string
// is a field that must be null.
type gaWant struct {
	name      string
	access    string // application or passthrough
	metadata  map[string]string
	country   string
	email     string // the address as the export writes it; its hash is checked
	nameHash  string // what name_hash hashes
	onboarded string // RFC 3339 in UTC
	status    string
	entity    string
}

// sampleCase is one sample config over its sample export.
type sampleCase struct {
	config, export string
	refColumn      string            // the input column reference_id is mapped from
	profiles       map[string]gaWant // by reference_id
	invalid        map[int]string    // line -> error_type
	filtered       []string          // reference_ids a --where drops
}

func sampleCases() map[string]sampleCase {
	eng := map[string]string{"department": "Engineering"}
	res := map[string]string{"department": "Research"}
	none := map[string]string{}
	return map[string]sampleCase{
		"okta": {
			config: "okta.toml", export: "okta-users.csv", refColumn: "Id",
			profiles: map[string]gaWant{
				"00u1k9x2a3B4c5D6e001": {name: "Ada Lovelace", access: "application", metadata: eng, country: "GB",
					email: "ada.lovelace@example.com", nameHash: "Ada Lovelace", onboarded: "2024-03-05T10:20:30Z", status: "active"},
				"00u1k9x2a3B4c5D6e002": {name: "Grace Hopper", access: "application", metadata: eng, country: "US",
					email: "Grace.Hopper@Example.com", nameHash: "Grace Hopper", onboarded: "2023-11-20T08:00:00Z", status: "active"},
				"00u1k9x2a3B4c5D6e003": {name: "Alan Turing", access: "application", metadata: res, country: "GB",
					email: "alan.turing@example.com", nameHash: "Alan Turing", onboarded: "2022-06-23T14:45:10.5Z", status: "suspended"},
				"00u1k9x2a3B4c5D6e005": {name: "Margaret Hamilton", access: "application", metadata: none, country: "US",
					email: "  Margaret.Hamilton@example.com ", nameHash: "Margaret Hamilton", onboarded: "2024-01-08T09:30:00Z", status: "active"},
				"00u1k9x2a3B4c5D6e006": {name: "Katherine Johnson", access: "application", metadata: res, country: "US",
					email: "katherine.johnson@example.com", nameHash: "Katherine Johnson", onboarded: "2024-02-29T23:59:59Z", status: "active"},
				"00u1k9x2a3B4c5D6e008": {name: "svc-backup", access: "application", metadata: none,
					email: "svc-backup@example.com", onboarded: "2024-04-01T00:00:00Z", status: "active"},
				"00u1k9x2a3B4c5D6e010": {name: "Edsger Dijkstra", access: "application", metadata: res, country: "NL",
					email: "edsger.dijkstra@example.com", nameHash: "Edsger Dijkstra", onboarded: "2022-12-01T11:11:11Z", status: "active"},
				"00u1k9x2a3B4c5D6e011": {name: "Barbara Liskov", access: "application", metadata: eng, country: "US",
					email: "barbara.liskov@example.com", nameHash: "Barbara Liskov", onboarded: "2023-07-04T18:00:00Z", status: "suspended"},
				"00u1k9x2a3B4c5D6e013": {name: "Søren Kierkegaard", access: "application", metadata: map[string]string{"department": "Philosophy"},
					country: "DK", email: "soren.kierkegaard@example.com", nameHash: "Søren Kierkegaard", onboarded: "2024-05-05T05:05:05Z", status: "active"},
				"00u1k9x2a3B4c5D6e014": {name: "Frances Allen", access: "application", metadata: none,
					email: "frances.allen@example.com", nameHash: "Frances Allen", status: "active"},
			},
			invalid:  map[int]string{8: "country_invalid", 9: "duplicate_external_id", 11: "value_not_mapped"},
			filtered: []string{"00u1k9x2a3B4c5D6e004", "00u1k9x2a3B4c5D6e012"},
		},
		"entra": {
			config: "entra.yaml", export: "entra-users.csv", refColumn: "id",
			profiles: map[string]gaWant{
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c01": {name: "Nora Berg", access: "application", metadata: map[string]string{"department": "Sales"},
					country: "NO", email: "Nora.Berg@contoso.com", nameHash: "Nora Berg", onboarded: "2023-03-14T09:26:53Z", status: "active", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c02": {name: "Li Wei", access: "application", metadata: eng,
					country: "CN", email: "li.wei@contoso.com", nameHash: "Wei Li", onboarded: "2022-11-02T16:05:00Z", status: "active", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c03": {name: "Amara Okafor", access: "application", metadata: map[string]string{"department": "Finance"},
					country: "NG", email: "amara.okafor@contoso.com", nameHash: "Amara Okafor", onboarded: "2024-01-09T00:00:00Z", status: "suspended", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c06": {name: "Mei Tanaka", access: "application", metadata: eng,
					country: "JP", email: "mei.tanaka@contoso.com", nameHash: "Mei Tanaka", onboarded: "2023-12-31T23:59:59Z", status: "active", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c07": {name: "room-4b", access: "application", metadata: none,
					onboarded: "2022-02-01T08:00:00Z", status: "suspended", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c08": {name: "Lucas Martin", access: "application", metadata: map[string]string{"department": "Marketing"},
					country: "FR", email: "lucas.martin@contoso.com", nameHash: "Lucas Martin", onboarded: "2024-04-04T07:07:07Z", status: "active", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c10": {name: "Jonas Weber", access: "application", metadata: map[string]string{"department": "Support"},
					country: "DE", nameHash: "Jonas Weber", onboarded: "2021-05-05T17:05:05Z", status: "active", entity: "individual"},
				"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c12": {name: "Carlos Díaz", access: "application", metadata: map[string]string{"department": "Sales"},
					country: "MX", email: "carlos.diaz@contoso.com", nameHash: "Carlos Díaz", onboarded: "2023-09-09T09:09:09Z", status: "active", entity: "individual"},
			},
			invalid:  map[int]string{6: "country_invalid", 9: "duplicate_external_id", 11: "onboarded_at_invalid", 13: "value_not_mapped"},
			filtered: []string{"6f1c2a4e-0b7d-4c1e-9a53-1e2f3a4b5c04"},
		},
		"auth0": {
			config: "auth0.toml", export: "auth0-users.jsonl", refColumn: "user_id",
			profiles: map[string]gaWant{
				"auth0|65a1f0c2e4b0a1b2c3d4e501": {name: "Maya Patel", access: "application", metadata: map[string]string{"plan": "pro"},
					country: "IN", email: "maya.patel@example.net", onboarded: "2023-02-11T09:15:22.123Z"},
				"google-oauth2|104857392019283746501": {name: "Tom Reed", access: "application", metadata: map[string]string{"plan": "free"},
					country: "US", email: "Tom.Reed@Example.net", onboarded: "2023-06-30T22:10:00Z"},
				"auth0|65a1f0c2e4b0a1b2c3d4e503": {name: "lena.fischer", access: "application", metadata: map[string]string{"plan": "team"},
					country: "DE", email: "lena.fischer@example.net", onboarded: "2024-01-15T12:45:00Z"},
				"auth0|65a1f0c2e4b0a1b2c3d4e505": {name: "James Wright", access: "application", metadata: map[string]string{"plan": "pro"},
					country: "GB", email: "james.wright@example.net", onboarded: "2022-09-09T09:09:09Z", status: "blocked"},
				"auth0|65a1f0c2e4b0a1b2c3d4e506": {name: "Chloé Martin", access: "application", metadata: map[string]string{"plan": "free"},
					country: "FR", email: "chloe.martin@example.net", onboarded: "2023-11-11T11:11:11Z", status: "active"},
				"github|5550101": {name: "samlee", access: "application", metadata: none,
					country: "KR", email: "sam.lee@example.net", onboarded: "2024-05-17T17:30:45Z"},
				"auth0|65a1f0c2e4b0a1b2c3d4e512": {name: "Ana Souza", access: "application", metadata: map[string]string{"plan": "enterprise"},
					country: "BR", email: "ana.souza@example.net", onboarded: "2024-06-01T12:00:00Z"},
				"auth0|65a1f0c2e4b0a1b2c3d4e513": {name: "Noah Kim", access: "application", metadata: none,
					email: "noah.kim@example.net", onboarded: "2024-07-04T04:04:04Z"},
			},
			invalid:  map[int]string{7: "country_invalid", 8: "duplicate_external_id", 9: "wrong_type", 10: "onboarded_at_in_future"},
			filtered: []string{"auth0|65a1f0c2e4b0a1b2c3d4e504"},
		},
		"stripe": {
			config: "stripe.toml", export: "stripe-customers.csv", refColumn: "id",
			profiles: map[string]gaWant{
				"cus_PqR1a2B3c4D5e6": {name: "Northwind Traders", access: "application", metadata: map[string]string{"plan": "enterprise"},
					country: "GB", email: "billing@northwind.example", onboarded: "2023-11-14T22:13:20Z", status: "active", entity: "business"},
				"cus_PqR1a2B3c4D5e7": {name: "Globex Corporation", access: "passthrough", metadata: map[string]string{"plan": "team"},
					country: "US", email: "ap@globex.example", onboarded: "2023-12-31T00:00:00Z", status: "active", entity: "business"},
				"cus_PqR1a2B3c4D5e8": {name: "Jane Doe", access: "application", metadata: map[string]string{"plan": "pro"},
					country: "CA", email: "jane.doe@example.com", onboarded: "2024-04-01T00:00:00Z", status: "active", entity: "individual"},
				"cus_PqR1a2B3c4D5e9": {name: "Red Cross Chapter 12", access: "application", metadata: map[string]string{"plan": "team"},
					country: "CH", email: "finance@redcross.example", onboarded: "2023-07-01T00:00:00Z", status: "active", entity: "non_profit"},
				"cus_PqR1a2B3c4D5f0": {name: "City of Springfield", access: "application", metadata: map[string]string{"plan": "enterprise"},
					country: "US", email: "it@city-of-springfield.example", onboarded: "2023-01-01T00:00:00Z", status: "suspended", entity: "government"},
				"cus_PqR1a2B3c4D5f2": {name: "Umbrella Health", access: "passthrough", metadata: map[string]string{"plan": "pro"},
					country: "SE", email: "hello@umbrella.example", onboarded: "2024-05-01T00:00:00Z", status: "active", entity: "business"},
				"cus_PqR1a2B3c4D5f3": {name: "max.mustermann", access: "application", metadata: map[string]string{"plan": "free"},
					country: "DE", email: "max.mustermann@example.de", onboarded: "2024-06-01T00:00:00Z", status: "active", entity: "individual"},
				"cus_PqR1a2B3c4D5f6": {name: "Pat Kim", access: "application", metadata: none,
					country: "KR", email: "  Pat.Kim@Example.ORG ", onboarded: "2024-08-01T00:00:00Z", status: "active", entity: "individual"},
				"cus_PqR1a2B3c4D5f7": {name: "Anonymous Buyer", access: "application", metadata: none, onboarded: "2024-09-01T00:00:00Z"},
			},
			invalid: map[int]string{7: "country_invalid", 8: "duplicate_external_id", 11: "onboarded_at_invalid", 12: "value_not_mapped"},
		},
	}
}

// samplePath is a file of samples/ at the root of the repository.
func samplePath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", "samples", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSampleConfigsUnderGA(t *testing.T) {
	cases := sampleCases()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t)
			w := newWorkdir(t, e)
			res := w.run("run", "--config", samplePath(t, tc.config), "--api", "ga", "--report", "report.csv",
				"--progress", "never", samplePath(t, tc.export))
			if res.code != exitRows {
				t.Fatalf("exit %d, want %d (some rows are invalid on purpose)\n%s", res.code, exitRows, res.stderr)
			}
			rows := readCSVReport(t, w.path("report.csv"))
			ids := checkSampleReport(t, tc, rows)
			checkSampleProfiles(t, tc, gaProfiles(t, e), ids)
			if s := e.stats(t); s.Created != int64(len(tc.profiles)) {
				t.Errorf("the emulator created %d profiles, want %d", s.Created, len(tc.profiles))
			}
		})
	}
}

// checkSampleReport checks every row of a sample's report and returns the
// profile id the report gives each reference_id created.
func checkSampleReport(t *testing.T, tc sampleCase, rows []map[string]string) map[string]string {
	t.Helper()
	if len(rows) != len(tc.profiles)+len(tc.invalid) {
		t.Errorf("the report has %d rows, want %d valid and %d invalid (filtered rows are not reported)",
			len(rows), len(tc.profiles), len(tc.invalid))
	}
	ids := map[string]string{}
	for _, r := range rows {
		line, err := strconv.Atoi(r["line"])
		if err != nil {
			t.Fatalf("row %v: line %q", r, r["line"])
		}
		ref := r[tc.refColumn]
		if slices.Contains(tc.filtered, ref) {
			t.Errorf("line %d: %s is filtered out by the config's where, yet reported %s", line, ref, r["status"])
		}
		if rule, bad := tc.invalid[line]; bad {
			if r["status"] != "invalid" || r["error_type"] != rule {
				t.Errorf("line %d: %s/%s (%s), want invalid/%s", line, r["status"], r["error_type"], r["error_message"], rule)
			}
			if r["user_profile_id"] != "" {
				t.Errorf("line %d is invalid yet names profile %s", line, r["user_profile_id"])
			}
			continue
		}
		if _, ok := tc.profiles[ref]; !ok {
			t.Errorf("line %d: %s %s is not a valid row of the sample", line, r["status"], ref)
			continue
		}
		if r["status"] != "created" || !strings.HasPrefix(r["user_profile_id"], "uprof_") {
			t.Errorf("line %d: %s %q (%s %s), want created with an id", line, r["status"], r["user_profile_id"], r["error_type"], r["error_message"])
			continue
		}
		ids[ref] = r["user_profile_id"]
	}
	return ids
}

// checkSampleProfiles checks every stored field of every profile against
// what the sample's valid rows ask for.
func checkSampleProfiles(t *testing.T, tc sampleCase, stored []gaStored, reported map[string]string) {
	t.Helper()
	byRef := map[string][]gaStored{}
	for _, p := range stored {
		if p.Details.ReferenceID == nil {
			t.Errorf("profile %s has no reference_id", p.ID)
			continue
		}
		byRef[*p.Details.ReferenceID] = append(byRef[*p.Details.ReferenceID], p)
	}
	for _, ref := range tc.filtered {
		if len(byRef[ref]) != 0 {
			t.Errorf("%s: filtered out by the config's where, yet the emulator holds %d profiles", ref, len(byRef[ref]))
		}
	}
	for ref := range byRef {
		if _, ok := tc.profiles[ref]; !ok {
			t.Errorf("%s: the emulator holds a profile no valid row asks for", ref)
		}
	}
	for _, ref := range slices.Sorted(maps.Keys(tc.profiles)) {
		want := tc.profiles[ref]
		ps := byRef[ref]
		if len(ps) != 1 {
			t.Errorf("%s: %d profiles, want 1", ref, len(ps))
			continue
		}
		p := ps[0]
		if reported[ref] != p.ID {
			t.Errorf("%s: the report names profile %q, the emulator holds %s", ref, reported[ref], p.ID)
		}
		field := func(name string, got *string, want string) {
			t.Helper()
			switch {
			case want == "" && got != nil:
				t.Errorf("%s: %s is %q, want null", ref, name, *got)
			case want != "" && got == nil:
				t.Errorf("%s: %s is null, want %q", ref, name, want)
			case want != "" && *got != want:
				t.Errorf("%s: %s is %q, want %q", ref, name, *got, want)
			}
		}
		field("external_id", p.ExternalID, ref)
		field("name", p.Name, want.name)
		field("access_type", p.AccessType, want.access)
		if rel := map[string]string{"application": "external", "passthrough": "resold"}[want.access]; p.Relationship != rel {
			t.Errorf("%s: relationship %q, want %q", ref, p.Relationship, rel)
		}
		if !maps.Equal(p.Metadata, want.metadata) {
			t.Errorf("%s: metadata %v, want %v", ref, p.Metadata, want.metadata)
		}
		field("country", p.Details.Country, want.country)
		emailHash := ""
		if want.email != "" {
			emailHash = gaEmailHash(want.email)
		}
		field("email_hash", p.Details.EmailHash, emailHash)
		nameHash := ""
		if want.nameHash != "" {
			nameHash = gaNameHash(want.nameHash)
		}
		field("name_hash", p.Details.NameHash, nameHash)
		field("account_status", p.Details.AccountStatus, want.status)
		field("entity_type", p.Details.EntityType, want.entity)
		switch got := p.Details.OnboardedAt; {
		case want.onboarded == "" && got != nil:
			t.Errorf("%s: onboarded_at is %s, want null", ref, *got)
		case want.onboarded != "" && got == nil:
			t.Errorf("%s: onboarded_at is null, want %s", ref, want.onboarded)
		case want.onboarded != "":
			g, err := time.Parse(time.RFC3339Nano, *got)
			w, _ := time.Parse(time.RFC3339Nano, want.onboarded)
			if err != nil || !g.Equal(w) || !strings.HasSuffix(*got, "Z") {
				t.Errorf("%s: onboarded_at is %s, want %s in UTC", ref, *got, want.onboarded)
			}
		}
	}
}

// TestSampleValidateShowsTheRequestsRunSends runs validate with each sample
// config: its valid rows are the rows run creates, and the request column
// holds the very fields the emulator stores for them.
func TestSampleValidateShowsTheRequestsRunSends(t *testing.T) {
	cases := sampleCases()
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t)
			w := newWorkdir(t, e)
			res := w.run("validate", "--config", samplePath(t, tc.config), "--api", "ga", "--report", "check.csv",
				"--progress", "never", samplePath(t, tc.export))
			if res.code != exitRows {
				t.Fatalf("exit %d\n%s", res.code, res.stderr)
			}
			sentNothing(t, e)
			rows := readCSVReport(t, w.path("check.csv"))
			if len(rows) != len(tc.profiles)+len(tc.invalid) {
				t.Fatalf("%d rows", len(rows))
			}
			for _, r := range rows {
				line, _ := strconv.Atoi(r["line"])
				if rule, bad := tc.invalid[line]; bad {
					if r["status"] != "invalid" || r["error_type"] != rule || r["request"] != "" {
						t.Errorf("line %d: %s/%s request %q, want invalid/%s and no request", line, r["status"], r["error_type"], r["request"], rule)
					}
					continue
				}
				var body struct {
					Name       *string           `json:"name"`
					AccessType *string           `json:"access_type"`
					Metadata   map[string]string `json:"metadata"`
					Details    map[string]string `json:"external_user_details"`
				}
				var keys map[string]any
				if err := json.Unmarshal([]byte(r["request"]), &body); err != nil {
					t.Errorf("line %d: request %q: %v", line, r["request"], err)
					continue
				}
				_ = json.Unmarshal([]byte(r["request"]), &keys)
				for k := range keys {
					if !slices.Contains([]string{"name", "access_type", "metadata", "external_user_details"}, k) {
						t.Errorf("line %d: the GA body has %q: %s", line, k, r["request"])
					}
				}
				ref := body.Details["reference_id"]
				want, ok := tc.profiles[ref]
				if !ok {
					t.Errorf("line %d: valid, with reference_id %q that no valid row has", line, ref)
					continue
				}
				if body.Name == nil || *body.Name != want.name {
					t.Errorf("line %d: request name %v, want %q", line, body.Name, want.name)
				}
				if want.email != "" && body.Details["email_hash"] != gaEmailHash(want.email) {
					t.Errorf("line %d: request email_hash %q", line, body.Details["email_hash"])
				}
				if want.email != "" && strings.Contains(strings.ToLower(r["request"]), strings.ToLower(strings.TrimSpace(want.email))) {
					t.Errorf("line %d: the request carries the address: %s", line, r["request"])
				}
				if body.Details["country"] != want.country || body.Details["account_status"] != want.status ||
					body.Details["entity_type"] != want.entity {
					t.Errorf("line %d: request details %v, want %+v", line, body.Details, want)
				}
				if len(want.metadata) > 0 && !maps.Equal(body.Metadata, want.metadata) {
					t.Errorf("line %d: request metadata %v, want %v", line, body.Metadata, want.metadata)
				}
			}
		})
	}
}

func TestGASeedRowsAreTranslated(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := w.write("seed.csv", "external_id,name,relationship,metadata.plan\n"+
		"u-1,Ada,external,pro\n"+ // 2
		"u-2,Internal Tools,internal,\n"+ // 3: no GA equivalent
		"u-3,Acme GmbH,resold,team\n"+ // 4
		"u-4,Bo,,\n") // 5: the server's default
	res := w.run("run", input, "--api", "ga", "--report", "report.csv", "--progress", "never")
	if res.code != exitRows {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	rows := readCSVReport(t, w.path("report.csv"))
	if len(rows) != 4 {
		t.Fatalf("%d rows", len(rows))
	}
	bad := rows[1]
	if bad["status"] != "invalid" || bad["error_type"] != "relationship_internal_not_in_ga" ||
		!strings.Contains(bad["error_message"], "no equivalent") || !strings.Contains(bad["error_message"], "GA") {
		t.Errorf("line 3: %s/%s %q, want invalid: internal has no GA equivalent", bad["status"], bad["error_type"], bad["error_message"])
	}
	for _, i := range []int{0, 2, 3} {
		if rows[i]["status"] != "created" {
			t.Errorf("line %s: %s %s %s", rows[i]["line"], rows[i]["status"], rows[i]["error_type"], rows[i]["error_message"])
		}
	}
	want := map[string]struct{ name, access, plan string }{
		"u-1": {"Ada", "application", "pro"},
		"u-3": {"Acme GmbH", "passthrough", "team"},
		"u-4": {"Bo", "application", ""},
	}
	ps := gaProfiles(t, e)
	if len(ps) != len(want) {
		t.Fatalf("%d profiles, want %d", len(ps), len(want))
	}
	for _, p := range ps {
		ref := ""
		if p.Details.ReferenceID != nil {
			ref = *p.Details.ReferenceID
		}
		wp, ok := want[ref]
		if !ok {
			t.Errorf("unexpected profile %q", ref)
			continue
		}
		if p.Name == nil || *p.Name != wp.name || p.AccessType == nil || *p.AccessType != wp.access || p.Metadata["plan"] != wp.plan {
			t.Errorf("%s: %+v, want %+v", ref, p, wp)
		}
		if p.ExternalID == nil || *p.ExternalID != ref {
			t.Errorf("%s: external_id %v", ref, p.ExternalID)
		}
	}
}

func TestGAStateFilledUnderTheSeedSendsNothingNew(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := w.write("users.csv", "external_id,name,relationship,metadata.plan,metadata.region\n"+
		"u-1,Ada Lovelace,external,pro,eu\n"+
		"u-2,Acme GmbH,resold,enterprise,eu\n"+
		"u-3,Grace Hopper,,free,us\n"+
		"u-4,,external,,\n"+
		"u-5,Alan Turing,external,team,\n")
	res := w.run("run", input, "--report", "seed.csv", "--progress", "never")
	if res.code != exitOK {
		t.Fatalf("the seed's run: exit %d\n%s", res.code, res.stderr)
	}
	before := e.stats(t)
	if before.Created != 5 {
		t.Fatalf("the seed's run created %d profiles", before.Created)
	}
	res = w.run("run", input, "--api", "ga", "--report", "ga.csv", "--progress", "never")
	if res.code != exitOK {
		t.Fatalf("the GA run: exit %d\n%s", res.code, res.stderr)
	}
	after := e.stats(t)
	if after.Created != before.Created || after.Profiles != 5 {
		t.Errorf("the GA run created %d profiles (now %d stored)", after.Created-before.Created, after.Profiles)
	}
	seed := readCSVReport(t, w.path("seed.csv"))
	for i, r := range readCSVReport(t, w.path("ga.csv")) {
		if r["status"] != "skipped" || r["user_profile_id"] != seed[i]["user_profile_id"] || r["error_type"] != "" {
			t.Errorf("line %s under GA: %s %s %s %q, want skipped as %s", r["line"], r["status"], r["user_profile_id"],
				r["error_type"], r["error_message"], seed[i]["user_profile_id"])
		}
	}
}

func TestGAMappingMistakesStopBeforeTheFirstRequest(t *testing.T) {
	auth0 := samplePath(t, "auth0-users.jsonl")
	for _, tc := range []struct {
		name   string
		files  map[string]string // written into the workdir
		args   []string
		inputs []string // each must appear in the message
	}{
		{
			name:   "a JSONL --map to a key no line has",
			args:   []string{"--config", samplePath(t, "auth0.toml"), "--map", "metadata.plan=app_metadata.plann", auth0},
			inputs: []string{"metadata.plan=app_metadata.plann", `"app_metadata.plann"`, "no line"},
		},
		{
			name:   "a JSONL --map to a nested key written flat",
			args:   []string{"--api", "ga", "--map", "reference_id=user_id", "--map", "country=country", auth0},
			inputs: []string{"country=country", `"country"`, "app_metadata"},
		},
		{
			name:   "no column maps to any field",
			files:  map[string]string{"people.csv": "First name,Last name,Mail\nAda,Lovelace,ada@example.com\n"},
			args:   []string{"--api", "ga", "people.csv"},
			inputs: []string{"First name", "Last name", "Mail", "--map"},
		},
		{
			name:   "no key of a JSONL line maps to any field",
			files:  map[string]string{"people.jsonl": `{"user_id":"u-1","given_name":"Ada"}` + "\n"},
			args:   []string{"--api", "ga", "people.jsonl"},
			inputs: []string{"user_id", "given_name", "--map"},
		},
		{
			name:   "a --map to an unknown field",
			files:  map[string]string{"u.csv": "id\nu-1\n"},
			args:   []string{"--api", "ga", "--map", "refrence_id=id", "u.csv"},
			inputs: []string{"refrence_id", "unknown field"},
		},
		{
			name:   "a --map without =",
			files:  map[string]string{"u.csv": "id\nu-1\n"},
			args:   []string{"--api", "ga", "--map", "reference_id", "u.csv"},
			inputs: []string{`--map "reference_id"`, "FIELD="},
		},
		{
			name:   "a template never closed",
			files:  map[string]string{"u.csv": "First name\nAda\n"},
			args:   []string{"--api", "ga", "--map", "name={First name", "u.csv"},
			inputs: []string{"name={First name", "never closed"},
		},
		{
			name:   "a --map to a column the header lacks",
			files:  map[string]string{"u.csv": "id,First name\nu-1,Ada\n"},
			args:   []string{"--api", "ga", "--map", "reference_id=id", "--map", "name={First nme}", "u.csv"},
			inputs: []string{"First nme", "First name"},
		},
		{
			name:   "a --where without =",
			files:  map[string]string{"u.csv": "reference_id,Status\nu-1,ACTIVE\n"},
			args:   []string{"--api", "ga", "--where", "Status", "u.csv"},
			inputs: []string{`--where "Status"`, "KEY=VALUE"},
		},
		{
			name:   "a --where on a column the header lacks",
			files:  map[string]string{"u.csv": "reference_id,Status\nu-1,ACTIVE\n"},
			args:   []string{"--api", "ga", "--where", "Statu!=DEPROVISIONED", "u.csv"},
			inputs: []string{"Statu", "Status"},
		},
		{
			name:   "an unknown key in a TOML config",
			files:  map[string]string{"u.csv": "reference_id\nu-1\n", "p.toml": "api = \"ga\"\nwher = [\"Status!=DEPROVISIONED\"]\n"},
			args:   []string{"--config", "p.toml", "u.csv"},
			inputs: []string{"p.toml", `"wher"`, `did you mean "where"?`},
		},
		{
			name:   "an unknown key in a YAML config",
			files:  map[string]string{"u.csv": "reference_id\nu-1\n", "p.yaml": "api: ga\nmaps:\n  reference_id: id\n"},
			args:   []string{"--config", "p.yaml", "u.csv"},
			inputs: []string{"p.yaml", `"maps"`, `did you mean "map"?`},
		},
		{
			name:   "a GA field under the seed's contract",
			files:  map[string]string{"u.csv": "id,Land\nu-1,GB\n"},
			args:   []string{"--map", "reference_id=id", "--map", "country=Land", "u.csv"},
			inputs: []string{"country=Land", "--api ga"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := startEmulator(t)
			w := newWorkdir(t, e)
			for name, content := range tc.files {
				w.write(name, content)
			}
			res := w.run(append([]string{"run", "--progress", "never"}, tc.args...)...)
			if res.code != exitUsage {
				t.Fatalf("exit %d, want %d\n%s", res.code, exitUsage, res.stderr)
			}
			for _, s := range tc.inputs {
				if !strings.Contains(res.stderr, s) {
					t.Errorf("the message does not say %q:\n%s", s, res.stderr)
				}
			}
			if s := e.stats(t); s.Requests != 0 {
				t.Errorf("%d requests were sent before the mistake stopped the run", s.Requests)
			}
		})
	}
}

func TestGAValidateAppliesTheGARules(t *testing.T) {
	e := startEmulator(t)
	w := newWorkdir(t, e)
	input := w.write("users.csv", "reference_id,name,country,onboarded_at,account_status,entity_type\n"+
		"u-1,Ada,GB,2024-03-05T10:20:30Z,active,individual\n"+ // 2
		"u-2,Tim,UK,,,\n"+ // 3
		"u-3,Bo,gb,,,\n"+ // 4: upper case only
		"u-4,Cy,,2099-01-01T00:00:00Z,,\n"+ // 5
		"u-5,Di,,,deleted,\n"+ // 6
		"u-6,Ed,,,,person\n") // 7
	res := w.run("validate", input, "--api", "ga", "--report", "ga.csv")
	if res.code != exitRows {
		t.Fatalf("exit %d\n%s", res.code, res.stderr)
	}
	sentNothing(t, e)
	want := []struct{ status, rule, says string }{
		{"valid", "", ""},
		{"invalid", "country_invalid", `"GB"`},
		{"invalid", "country_invalid", ""},
		{"invalid", "onboarded_at_in_future", ""},
		{"invalid", "account_status_invalid", ""},
		{"invalid", "entity_type_invalid", ""},
	}
	rows := readCSVReport(t, w.path("ga.csv"))
	if len(rows) != len(want) {
		t.Fatalf("%d rows", len(rows))
	}
	for i, wr := range want {
		r := rows[i]
		if r["status"] != wr.status || r["error_type"] != wr.rule || !strings.Contains(r["error_message"], wr.says) {
			t.Errorf("line %s: %s/%s %q, want %s/%s saying %s", r["line"], r["status"], r["error_type"], r["error_message"], wr.status, wr.rule, wr.says)
		}
	}
	if want := `{"name":"Ada","external_user_details":{"reference_id":"u-1","country":"GB","onboarded_at":"2024-03-05T10:20:30Z",` +
		`"account_status":"active","entity_type":"individual"}}`; rows[0]["request"] != want {
		t.Errorf("line 2's request\n got: %s\nwant: %s", rows[0]["request"], want)
	}
	// The seed's contract reads none of the GA columns: the same file is valid.
	res = w.run("validate", input, "--report", "seed.csv")
	if res.code != exitOK {
		t.Fatalf("under the seed's contract: exit %d\n%s", res.code, res.stderr)
	}
	for _, r := range readCSVReport(t, w.path("seed.csv")) {
		if r["status"] != "valid" || strings.Contains(r["request"], "country") {
			t.Errorf("line %s under the seed: %s %s, request %s", r["line"], r["status"], r["error_type"], r["request"])
		}
	}
}
