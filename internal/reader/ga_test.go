package reader

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/provision/provision/internal/profile"
)

// sha is the hex SHA-256 of s, computed here rather than by profile, so the
// tests check the hashes independently.
func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// dumpJSON renders records one per line as "LINE <request as the ledger
// keeps it>" or "LINE !rule field: message". A hash of one of preimages is
// shown as sha256(PREIMAGE), so a case can state what was hashed.
func dumpJSON(t *testing.T, recs []Record, preimages ...string) string {
	t.Helper()
	var b strings.Builder
	for _, r := range recs {
		if r.Problem != nil {
			fmt.Fprintf(&b, "%d !%s %s\n", r.Line, r.Problem.Rule, r.Problem.Error())
			continue
		}
		js, err := json.Marshal(r.Request)
		if err != nil {
			t.Fatal(err)
		}
		line := string(js)
		for _, p := range preimages {
			line = strings.ReplaceAll(line, sha(p), "sha256("+p+")")
		}
		fmt.Fprintf(&b, "%d %s\n", r.Line, line)
	}
	return b.String()
}

type readCase struct {
	name     string
	format   Format
	file     string // under testdata
	input    string // when file is empty
	version  profile.Version
	maps     []string
	where    []string
	want     string   // dumpJSON of the records
	hashed   []string // preimages of hashes in want
	unused   []string
	filtered int64
	usageErr string // Open must fail with this message
	check    string // CheckMapping's message after the last record, when one is expected
}

func (tc readCase) run(t *testing.T) {
	t.Helper()
	input := []byte(tc.input)
	if tc.file != "" {
		input = testdata(t, tc.file)
	}
	format := tc.format
	if format == "" {
		format = FormatCSV
	}
	w, err := ParseWhere(tc.where)
	if err != nil {
		t.Fatal(err)
	}
	r, recs, err := readAll(t, input, Options{Format: format, Version: tc.version, Mapping: mustMapping(t, tc.maps...), Where: w})
	if tc.usageErr != "" {
		if got := usageText(err); got != tc.usageErr {
			t.Fatalf("error\n got: %v\nwant: %s", err, tc.usageErr)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if got := dumpJSON(t, recs, tc.hashed...); got != tc.want {
		t.Errorf("records\n got:\n%s\nwant:\n%s", got, tc.want)
	}
	if tc.unused != nil && !slices.Equal(r.Unused(), tc.unused) {
		t.Errorf("Unused() = %q, want %q", r.Unused(), tc.unused)
	}
	if r.Filtered() != tc.filtered {
		t.Errorf("Filtered() = %d, want %d", r.Filtered(), tc.filtered)
	}
	if got := usageText(r.CheckMapping()); got != tc.check {
		t.Errorf("CheckMapping\n got: %s\nwant: %s", got, tc.check)
	}
}

func TestGAColumns(t *testing.T) {
	header := "external_id,reference_id,name,relationship,access_type,country,email,email_hash,name_hash,onboarded_at,account_status,entity_type\n"
	for _, tc := range []readCase{
		{
			name:    "every canonical GA column",
			input:   header + "u-1,,Ada,,application,GB, Ada@Example.com ,,n,2024-01-02T03:04:05Z,active,individual\n",
			version: profile.VersionGA,
			want:    `2 {"external_id":"u-1","name":"Ada","access_type":"application","country":"GB","email_hash":"sha256(ada@example.com)","name_hash":"n","onboarded_at":"2024-01-02T03:04:05Z","account_status":"active","entity_type":"individual"}` + "\n",
			hashed:  []string{"ada@example.com"},
			unused:  []string{},
		},
		{
			name:    "reference_id is external_id",
			input:   header + ",u-2,,,,,,,,,,\nu-3,u-3,,,,,,,,,,\nu-4,u-5,,,,,,,,,,\n",
			version: profile.VersionGA,
			want: `2 {"external_id":"u-2"}
3 {"external_id":"u-3"}
4 !field_conflict reference_id: "u-5" differs from external_id "u-4"; reference_id is the GA name of external_id, keep one
`,
		},
		{
			name:    "email and email_hash must agree",
			input:   "email,email_hash\na@x.io," + sha("a@x.io") + "\nA@X.io,\n,h\nb@x.io,h\n   ,\n",
			version: profile.VersionGA,
			want: `2 {"email_hash":"sha256(a@x.io)"}
3 {"email_hash":"sha256(a@x.io)"}
4 {"email_hash":"h"}
5 !field_conflict email_hash: is not the SHA-256 of email; give the address or its hash, not both
6 {}
`,
			hashed: []string{"a@x.io"},
		},
		{
			name:    "relationship is read under GA, to be translated",
			input:   "relationship\nexternal\ninternal\n",
			version: profile.VersionGA,
			want:    "2 {\"relationship\":\"external\"}\n3 {\"relationship\":\"internal\"}\n",
		},
		{
			name:    "the seed reads only its own columns",
			input:   header + "u-1,u-9,Ada,external,application,GB,a@x.io,h,n,2024-01-02T03:04:05Z,active,individual\n",
			version: profile.Version20260324,
			want:    `2 {"external_id":"u-1","name":"Ada","relationship":"external"}` + "\n",
			unused:  []string{"reference_id", "access_type", "country", "email", "email_hash", "name_hash", "onboarded_at", "account_status", "entity_type"},
		},
		{
			name:    "2026-08-18 reads access_type and onboarded_at, not the details",
			input:   "reference_id,access_type,onboarded_at,country\nu-1,passthrough,2024-01-02T03:04:05Z,GB\n",
			version: profile.Version20260818,
			want:    `2 {"external_id":"u-1","access_type":"passthrough","onboarded_at":"2024-01-02T03:04:05Z"}` + "\n",
			unused:  []string{"country"},
		},
		{
			name:    "flattened detail columns",
			input:   "external_user_details.reference_id,external_user_details.country,external_user_details.foo\nu-1,FR,x\n",
			version: profile.VersionGA,
			want:    `2 {"external_id":"u-1","country":"FR"}` + "\n",
			unused:  []string{"external_user_details.foo"},
		},
		{
			name:     "a mapped field the seed cannot carry",
			input:    "Land\nGB\n",
			maps:     []string{"country=Land"},
			usageErr: "--map country=Land: country is not part of the 2026-03-24 contract; use --api ga",
		},
		{
			name:     "onboarded_at is not part of the seed either",
			input:    "Created\n2024\n",
			maps:     []string{"onboarded_at=Created|2006"},
			usageErr: "--map onboarded_at=Created|2006: onboarded_at is not part of the 2026-03-24 contract; use --api ga",
		},
		{
			name:    "access_type mapped under the seed",
			input:   "kind\npassthrough\n",
			maps:    []string{"access_type=kind"},
			want:    `2 {"access_type":"passthrough"}` + "\n",
			version: profile.Version20260324,
		},
		{
			name:    "mapping reference_id replaces the external_id column too",
			input:   "external_id,id\nu-1,cus_1\n",
			maps:    []string{"reference_id=id"},
			version: profile.VersionGA,
			want:    `2 {"external_id":"cus_1"}` + "\n",
			unused:  []string{"external_id"},
		},
		{
			name:    "mapping email replaces the email_hash column",
			input:   "email_hash,Mail\nh,a@x.io\n",
			maps:    []string{"email=Mail"},
			version: profile.VersionGA,
			want:    `2 {"email_hash":"sha256(a@x.io)"}` + "\n",
			hashed:  []string{"a@x.io"},
			unused:  []string{"email_hash"},
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestGAJSONL(t *testing.T) {
	for _, tc := range []readCase{
		{
			name: "details nested, flat, and both",
			input: `{"external_user_details":{"reference_id":"u-1","country":"GB","email":"A@x.io","onboarded_at":"2024-01-02T03:04:05Z","account_status":null}}
{"reference_id":"u-2","external_user_details":{"reference_id":"u-2","entity_type":"business"}}
{"reference_id":"u-3","external_user_details":{"reference_id":"u-4"}}
{"country":"GB","external_user_details":{"country":"FR"}}
{"external_user_details":null,"name":"Ada"}
{"external_user_details":{"plan":"pro"}}
{"external_user_details":{"country":7}}
{"external_user_details":"GB"}
{"access_type":"application","email_hash":"h","name_hash":"n"}
`,
			format:  FormatJSONL,
			version: profile.VersionGA,
			want: `1 {"external_id":"u-1","country":"GB","email_hash":"sha256(a@x.io)","onboarded_at":"2024-01-02T03:04:05Z"}
2 {"external_id":"u-2","entity_type":"business"}
3 !field_conflict external_user_details.reference_id: "u-4" differs from reference_id "u-3"; both set reference_id, keep one
4 !field_conflict external_user_details.country: "FR" differs from country "GB"; both set country, keep one
5 {"name":"Ada"}
6 !unknown_field external_user_details.plan: not a detail; external_user_details holds reference_id, country, email, email_hash, name_hash, onboarded_at, account_status or entity_type
7 !wrong_type external_user_details.country: must be a string, found a number
8 !wrong_type external_user_details: must be a JSON object, found a string
9 {"access_type":"application","email_hash":"h","name_hash":"n"}
`,
			hashed: []string{"a@x.io"},
		},
		{
			name:   "the seed leaves the GA keys alone",
			input:  `{"external_id":"u-1","country":"GB","external_user_details":{"plan":"x"},"email":"a@x.io"}` + "\n",
			format: FormatJSONL,
			want:   `1 {"external_id":"u-1"}` + "\n",
		},
		{
			name:    "wrong types of GA keys name the key",
			input:   `{"onboarded_at":1700000000}` + "\n" + `{"account_status":true}` + "\n",
			format:  FormatJSONL,
			version: profile.VersionGA,
			want:    "1 !wrong_type onboarded_at: must be a string, found a number\n2 !wrong_type account_status: must be a string, found a boolean\n",
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestMappingForms(t *testing.T) {
	ga := profile.VersionGA
	for _, tc := range []readCase{
		{
			name:    "template: empty parts dropped, spaces tidied",
			input:   "First name,Last name\nAda,Lovelace\n  Grace , \n,Turing\n,\nJean  Paul,Sartre\n",
			maps:    []string{"name={First name} {Last name}"},
			version: ga,
			want:    "2 {\"name\":\"Ada Lovelace\"}\n3 {\"name\":\"Grace\"}\n4 {\"name\":\"Turing\"}\n5 {}\n6 {\"name\":\"Jean Paul Sartre\"}\n",
			unused:  []string{},
		},
		{
			name:  "template: separators go with their placeholders",
			input: "F,L,T\nAda,Lovelace,Dr\nAda,,\n,Lovelace,Dr\nAda,Lovelace,\n",
			maps:  []string{"name={L}, {F} ({T})"},
			want:  "2 {\"name\":\"Lovelace, Ada (Dr)\"}\n3 {\"name\":\"Ada\"}\n4 {\"name\":\"Lovelace (Dr)\"}\n5 {\"name\":\"Lovelace, Ada\"}\n",
		},
		{
			name:    "template modifiers",
			input:   "mail,c\nada.l@example.com,gb\nnoat,\n",
			maps:    []string{"name={mail:local}", "country={c:upper}"},
			version: ga,
			want:    "2 {\"name\":\"ada.l\",\"country\":\"GB\"}\n3 {\"name\":\"noat\"}\n",
		},
		{
			name:    "fallbacks: name, else the email's local part",
			input:   "Name,email\nAda Lovelace,ada@x.io\n,grace@x.io\n,\n",
			maps:    []string{"name=Name|{email:local}"},
			version: ga,
			want: `2 {"name":"Ada Lovelace","email_hash":"sha256(ada@x.io)"}
3 {"name":"grace","email_hash":"sha256(grace@x.io)"}
4 {}
`,
			hashed: []string{"ada@x.io", "grace@x.io"},
		},
		{
			name:    "value table: case and spaces ignored, default, empty TO, unknown value",
			input:   "Status,n\nACTIVE,1\n suspended ,2\nDEPROVISIONED,3\nSTAGED,4\n,5\n",
			maps:    []string{"account_status=Status:ACTIVE=active,SUSPENDED=suspended,DEPROVISIONED=blocked"},
			version: ga,
			want: `2 {"account_status":"active"}
3 {"account_status":"suspended"}
4 {"account_status":"blocked"}
5 !value_not_mapped account_status: "STAGED" (column "Status") is not in the --map value table; add STAGED=VALUE, or *=VALUE for every other value
6 {}
`,
		},
		{
			name:    "value table with a default and an absent value",
			input:   "accountEnabled\nTrue\nFalse\nmaybe\n",
			maps:    []string{"account_status=accountEnabled:true=active,false=,*=suspended"},
			version: ga,
			want:    "2 {\"account_status\":\"active\"}\n3 {}\n4 {\"account_status\":\"suspended\"}\n",
		},
		{
			name:    "date layouts give RFC 3339 in UTC",
			input:   "d\n2024-01-02\n2024-13-02\n\n",
			maps:    []string{"onboarded_at=d|2006-01-02"},
			version: ga,
			want: `2 {"onboarded_at":"2024-01-02T00:00:00Z"}
3 !onboarded_at_invalid onboarded_at: "2024-13-02" (column "d") does not match the layout 2006-01-02 given in --map
`,
		},
		{
			name:    "a layout with a zone",
			input:   "d\n02/01/2024 10:00 +0200\n",
			maps:    []string{"onboarded_at=d|02/01/2006 15:04 -0700"},
			version: ga,
			want:    "2 {\"onboarded_at\":\"2024-01-02T08:00:00Z\"}\n",
		},
		{
			name:    "named layouts",
			input:   "s,ms,r\n1680893993,1680893993250,2024-01-02T03:04:05.5+01:00\n1.5,x,2024-01-02\n",
			maps:    []string{"onboarded_at=s|unix"},
			version: ga,
			want:    "2 {\"onboarded_at\":\"2023-04-07T18:59:53Z\"}\n3 {\"onboarded_at\":\"1970-01-01T00:00:01.5Z\"}\n",
		},
		{
			name:    "unixms",
			input:   "ms\n1680893993250\nx\n",
			maps:    []string{"onboarded_at=ms|unixms"},
			version: ga,
			want: `2 {"onboarded_at":"2023-04-07T18:59:53.25Z"}
3 !onboarded_at_invalid onboarded_at: "x" (column "ms") does not match the layout unixms given in --map
`,
		},
		{
			name:    "rfc3339 normalises the offset",
			input:   "r\n2024-01-02T03:04:05.5+01:00\n2024-01-02\n",
			maps:    []string{"onboarded_at=r|rfc3339"},
			version: ga,
			want: `2 {"onboarded_at":"2024-01-02T02:04:05.5Z"}
3 !onboarded_at_invalid onboarded_at: "2024-01-02" (column "r") does not match the layout rfc3339 given in --map
`,
		},
		{
			name:    "a layout after fallbacks",
			input:   "a,b\n,2024-01-02\n2023-05-06,\n",
			maps:    []string{"onboarded_at=a|b|2006-01-02"},
			version: ga,
			want:    "2 {\"onboarded_at\":\"2024-01-02T00:00:00Z\"}\n3 {\"onboarded_at\":\"2023-05-06T00:00:00Z\"}\n",
		},
		{
			name:    "sha256 of a template and of a column",
			input:   "First name,Last name,Mail\nAda,LOVELACE, A@x.io\n,,\n",
			maps:    []string{"name_hash=sha256({First name}  {Last name})", "email_hash=sha256(Mail)"},
			version: ga,
			want:    "2 {\"email_hash\":\"sha256(a@x.io)\",\"name_hash\":\"sha256(ada lovelace)\"}\n3 {}\n",
			hashed:  []string{"ada lovelace", "a@x.io"},
		},
		{
			name:    "a column used by a template still feeds its own field",
			input:   "name\nAda Lovelace\n",
			maps:    []string{"name_hash=sha256({name})"},
			version: ga,
			want:    "2 {\"name\":\"Ada Lovelace\",\"name_hash\":\"sha256(ada lovelace)\"}\n",
			hashed:  []string{"ada lovelace"},
		},
		{
			name:  "templates into metadata keys, which clash with the JSON column",
			input: "metadata,t,e\n\"{\"\"team\"\":\"\"x\"\"}\",ops,\n,ops,eu\n",
			maps:  []string{"metadata.team={t}", "metadata.region={e}"},
			want: `2 !metadata_conflict metadata.team: metadata key "team" is also set by the column "metadata"; set it in one place
3 {"metadata":{"region":"eu","team":"ops"}}
`,
		},
		{
			name:   "a source that is a header column is that column",
			input:  "Plan|Tier,{weird}\npro,x\n",
			maps:   []string{"metadata.plan=Plan|Tier", "name={weird}"},
			want:   "2 {\"name\":\"x\",\"metadata\":{\"plan\":\"pro\"}}\n",
			unused: []string{},
		},
		{
			name:     "a template naming a missing column",
			input:    "First name,Last name\nAda,Lovelace\n",
			maps:     []string{"name={First name} {Lst name}"},
			usageErr: `--map name={First name} {Lst name}: the header has no column "Lst name"; the columns are: First name, Last name`,
		},
		{
			name:     "a table naming a missing column",
			input:    "Status\nACTIVE\n",
			maps:     []string{"account_status=State:ACTIVE=active"},
			version:  ga,
			usageErr: `--map account_status=State:ACTIVE=active: the header has no column "State"; the columns are: Status`,
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestMappingFormsJSONL(t *testing.T) {
	for _, tc := range []readCase{
		{
			name: "nested keys, typed values in tables and layouts",
			input: `{"id":"a","app_metadata":{"plan":"pro","tier":{"x":"y"}},"enabled":true,"created":1680893993}
{"id":"b","app_metadata":{"plan":null},"enabled":false,"created":"1680893993"}
{"id":"c","app_metadata":"flat","enabled":"TRUE"}
{"id":"d","app_metadata.plan":"dotted","app_metadata":{"plan":"nested"}}
{"id":7}
`,
			format:  FormatJSONL,
			version: profile.VersionGA,
			maps:    []string{"reference_id=id", "metadata.plan=app_metadata.plan", "account_status=enabled:true=active,false=suspended", "onboarded_at=created|unix"},
			want: `1 {"external_id":"a","metadata":{"plan":"pro"},"onboarded_at":"2023-04-07T18:59:53Z","account_status":"active"}
2 {"external_id":"b","onboarded_at":"2023-04-07T18:59:53Z","account_status":"suspended"}
3 {"external_id":"c","account_status":"active"}
4 {"external_id":"d","metadata":{"plan":"dotted"}}
5 !wrong_type id: must be a string, found a number
`,
		},
		{
			name:    "a plain nested key must be a string",
			input:   `{"app_metadata":{"plan":7}}` + "\n",
			format:  FormatJSONL,
			maps:    []string{"metadata.plan=app_metadata.plan"},
			want:    "1 !wrong_type app_metadata.plan: must be a string, found a number\n",
			version: profile.Version20260324,
		},
		{
			name:   "a template takes numbers but not objects",
			input:  `{"n":42}` + "\n" + `{"n":{"a":1}}` + "\n" + `{"n":[1]}` + "\n",
			format: FormatJSONL,
			maps:   []string{"name=User {n}"},
			want:   "1 {\"name\":\"User 42\"}\n2 !wrong_type n: must be a string, a number or a boolean, found an object\n3 !wrong_type n: must be a string, a number or a boolean, found an array\n",
		},
		{
			name:   "a mapped metadata object from a nested key",
			input:  `{"u":{"meta":{"plan":"pro"}}}` + "\n" + `{"u":{"meta":"x"}}` + "\n",
			format: FormatJSONL,
			maps:   []string{"metadata=u.meta"},
			want:   "1 {\"metadata\":{\"plan\":\"pro\"}}\n2 !wrong_type u.meta: must be a JSON object of strings, found a string\n",
		},
		{
			name:   "a dotted key with a dot inside a nested key",
			input:  `{"a":{"b.c":{"d":"x"}}}` + "\n",
			format: FormatJSONL,
			maps:   []string{"name=a.b.c.d"},
			want:   "1 {\"name\":\"x\"}\n",
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestParseMappingForms(t *testing.T) {
	for _, tc := range []struct {
		spec string
		err  string // "" when it parses
	}{
		{spec: "name={First name} {Last name}"},
		{spec: "name={Name}|{email:local}"},
		{spec: "name_hash=sha256({First name} {Last name})"},
		{spec: "email_hash=sha256(Mail)"},
		{spec: "account_status=Status:ACTIVE=active,SUSPENDED=suspended,DEPROVISIONED=blocked"},
		{spec: "account_status=accountEnabled:true=active,false=suspended"},
		{spec: "entity_type=kind:*=individual"},
		{spec: "onboarded_at=Created|2006-01-02"},
		{spec: "onboarded_at=created|unix"},
		{spec: "metadata.plan=app_metadata.plan"},
		{spec: "country=Land:England=GB,*=US"},
		{spec: "name={First", err: `--map "name={First": a { is never closed; placeholders are written {COLUMN}`},
		{spec: "name=First}", err: `--map "name=First}": a } without its {; placeholders are written {COLUMN}`},
		{spec: "name={}", err: `--map "name={}": an empty placeholder {}; write {COLUMN}`},
		{spec: "name={a{b}}", err: `--map "name={a{b}}": placeholders cannot nest: {a{b}`},
		{spec: "name=a||b", err: `--map "name=a||b": an alternative between | is empty; write FIELD=SOURCE|SOURCE, e.g. name={Name}|{email:local}`},
		{spec: "name_hash=sha256(", err: `--map "name_hash=sha256(": sha256( needs a column or template and a closing ), e.g. sha256({First name} {Last name})`},
		{spec: "name_hash=sha256(a:X=y)", err: `--map "name_hash=sha256(a:X=y)": sha256() takes a column or a template, not "a:X=y"`},
		{spec: "account_status=Status:ACTIVE=enabled", err: `--map "account_status=Status:ACTIVE=enabled": "enabled" is not a value of account_status; use active, suspended, blocked`},
		{spec: "entity_type=k:NGO=nonprofit", err: `--map "entity_type=k:NGO=nonprofit": "nonprofit" is not a value of entity_type; use individual, business, non_profit, government`},
		{spec: "access_type=k:a=external", err: `--map "access_type=k:a=external": "external" is not a value of access_type; use application, passthrough`},
		{spec: "country=Land:England=UK", err: `--map "country=Land:England=UK": "UK" is not an ISO 3166-1 alpha-2 code`},
		{spec: "account_status=Status:ACTIVE", err: ""}, // a column named "Status:ACTIVE"
		{spec: "account_status=Status:ACTIVE=active,active=active", err: `--map "account_status=Status:ACTIVE=active,active=active": the value table names "active" twice`},
		{spec: "account_status=Status:=active", err: `--map "account_status=Status:=active": the value table entry "=active" is not FROM=TO; write e.g. ACTIVE=active`},
		{spec: "account_status=Status:*=active,*=blocked", err: `--map "account_status=Status:*=active,*=blocked": the value table has two *= entries`},
		{spec: "account_status=ACTIVE=active", err: `--map "account_status=ACTIVE=active": "ACTIVE=active" has an = but no COLUMN: before its value table; write e.g. Status:ACTIVE=active,SUSPENDED=suspended`},
		{spec: "metadata={a}", err: `--map "metadata={a}": metadata takes one column holding a JSON object; map single keys with metadata.KEY=SOURCE`},
		{spec: "name=k", err: ""},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseMapping([]string{tc.spec})
			if got := usageText(err); got != tc.err || (err == nil) != (tc.err == "") {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	for _, tc := range []struct {
		specs []string
		err   string
	}{
		{[]string{"external_id=a", "reference_id=b"}, `--map: external_id and reference_id set one field (reference_id is the GA name of external_id); map only one of them`},
		{[]string{"access_type=a", "relationship=b"}, `--map: access_type and relationship set one field (access_type is the GA word for relationship); map only one of them`},
		{[]string{"email=a", "email_hash=sha256(a)"}, `--map: email and email_hash set one field (email is hashed into email_hash); map only one of them`},
		{[]string{"name={a}", "name=b"}, `--map: field name is mapped twice (to columns "{a}" and "b"); map each field once`},
		{[]string{"name={a} {b}", "name_hash=sha256({a} {b})", "metadata.a=a"}, ""},
	} {
		t.Run(strings.Join(tc.specs, " "), func(t *testing.T) {
			_, err := ParseMapping(tc.specs)
			if got := usageText(err); got != tc.err || (err == nil) != (tc.err == "") {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
}

func TestWhere(t *testing.T) {
	for _, tc := range []struct {
		spec string
		err  string
	}{
		{spec: "Status!=DEPROVISIONED"},
		{spec: "accountEnabled=true"},
		{spec: "Status=ACTIVE|SUSPENDED"},
		{spec: "email!="},
		{spec: "Status", err: `--where "Status": expected KEY=VALUE or KEY!=VALUE, e.g. --where 'Status!=DEPROVISIONED'`},
		{spec: "=x", err: `--where "=x": the column is missing; expected KEY=VALUE or KEY!=VALUE`},
		{spec: " != x", err: `--where " != x": the column is missing; expected KEY=VALUE or KEY!=VALUE`},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			_, err := ParseWhere([]string{tc.spec})
			if got := usageText(err); got != tc.err || (err == nil) != (tc.err == "") {
				t.Fatalf("error %v, want %q", err, tc.err)
			}
		})
	}
	for _, tc := range []readCase{
		{
			name:     "not equal, ignoring case",
			input:    "name,Status\nA,ACTIVE\nB,deprovisioned\nC,\n",
			where:    []string{"Status!=DEPROVISIONED"},
			want:     "2 {\"name\":\"A\"}\n4 {\"name\":\"C\"}\n",
			filtered: 1,
			unused:   []string{},
		},
		{
			name:     "equal to one of several, and present",
			input:    "name,Status,email\nA,ACTIVE,a@x\nB,SUSPENDED,\nC,STAGED,c@x\nD,suspended,d@x\n",
			where:    []string{"Status=ACTIVE|SUSPENDED", "email!="},
			want:     "2 {\"name\":\"A\"}\n5 {\"name\":\"D\"}\n",
			filtered: 2,
		},
		{
			name:     "rows with too few fields are reported, not filtered",
			input:    "name,Status\nA\nB,x\n",
			where:    []string{"Status=y"},
			want:     "2 !field_count 1 fields, the header has 2\n",
			filtered: 1,
		},
		{
			name:     "JSONL booleans, nested keys and absent keys",
			format:   FormatJSONL,
			input:    `{"name":"A","accountEnabled":true}` + "\n" + `{"name":"B","accountEnabled":false}` + "\n" + `{"name":"C"}` + "\n" + `{"name":"D","accountEnabled":"True"}` + "\n" + "[1]\n",
			where:    []string{"accountEnabled=true"},
			want:     "1 {\"name\":\"A\"}\n4 {\"name\":\"D\"}\n5 !not_an_object the line is an array, not a JSON object\n",
			filtered: 2,
		},
		{
			name:     "a filter on a missing column",
			input:    "name\nA\n",
			where:    []string{"Stauts!=X"},
			usageErr: `--where Stauts!=X: the header has no column "Stauts"; the columns are: name`,
		},
		{
			name:   "a filter on a JSONL key no line has",
			format: FormatJSONL,
			input:  `{"name":"A","Status":"x"}` + "\n",
			where:  []string{"Stauts!=X"},
			want:   "1 {\"name\":\"A\"}\n",
			check:  `--where Stauts!=X: no line of the 1 line read has the key "Stauts"; the keys seen include: name, Status; check its spelling; a dotted key reaches into objects, e.g. app_metadata.plan`,
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

func TestCheckMapping(t *testing.T) {
	for _, tc := range []readCase{
		{
			name:   "a CSV export none of whose columns is a field",
			input:  "First name,Last name,Email\nAda,Lovelace,a@x\n",
			want:   "2 {}\n",
			unused: []string{"First name", "Last name", "Email"},
			check: "no column of the export is a field of the request; the columns are: First name, Last name, Email. Map them with --map FIELD=COLUMN, " +
				"e.g. --map 'name={First name} {Last name}', or name them as external_id, name, relationship, metadata, metadata.KEY",
		},
		{
			name:    "under GA the message names the GA columns",
			input:   "First name\nAda\n",
			version: profile.VersionGA,
			want:    "2 {}\n",
			check: "no column of the export is a field of the request; the columns are: First name. Map them with --map FIELD=COLUMN, " +
				"e.g. --map 'name={First name} {Last name}', or name them as reference_id, name, access_type, metadata, metadata.KEY, " +
				"country, email, email_hash, name_hash, onboarded_at, account_status, entity_type",
		},
		{
			name:  "an empty CSV judges nothing",
			input: "",
			want:  "",
		},
		{
			name:  "a header that maps is fine, even without rows",
			input: "name\n",
			want:  "",
		},
		{
			name:   "a JSONL export none of whose keys is a field",
			format: FormatJSONL,
			input:  `{"user_id":"a","email":"a@x"}` + "\n" + `{"user_id":"b","nick":"b"}` + "\n",
			want:   "1 {}\n2 {}\n",
			check: "no key of the 2 lines read is a field of the request; the keys are: user_id, email, nick. Map them with --map FIELD=KEY, " +
				"e.g. --map reference_id=user_id, or name them as external_id, name, relationship, metadata, metadata.KEY",
		},
		{
			name:    "a mapped key no line has",
			format:  FormatJSONL,
			version: profile.VersionGA,
			input:   `{"user_id":"a","app_metadata":{"plan":"pro"}}` + "\n",
			maps:    []string{"reference_id=user_id", "metadata.plan=app_metadata.plna", "name={given} {family}"},
			want:    "1 {\"external_id\":\"a\"}\n",
			check: `--map metadata.plan=app_metadata.plna: no line of the 1 line read has the key "app_metadata.plna"; ` +
				`--map name={given} {family}: no line of the 1 line read has the key "given"; ` +
				`--map name={given} {family}: no line of the 1 line read has the key "family"; ` +
				"the keys seen include: user_id, app_metadata; check its spelling; a dotted key reaches into objects, e.g. app_metadata.plan",
		},
		{
			name:   "a mapped key some line has, even as null",
			format: FormatJSONL,
			input:  `{"n":"a"}` + "\n" + `{"x":null}` + "\n",
			maps:   []string{"name=n", "metadata.x=x"},
			want:   "1 {\"name\":\"a\"}\n2 {}\n",
		},
		{
			name:   "invalid lines are no evidence",
			format: FormatJSONL,
			input:  "[1]\nnot json\n",
			want:   "1 !not_an_object the line is an array, not a JSON object\n2 !invalid_json not valid JSON: invalid character 'o' in literal null (expecting 'u') at byte 2\n",
		},
	} {
		t.Run(tc.name, tc.run)
	}
}

// CheckMapping answers after the first rows, before the rest are read, as
// a run needs before it sends.
func TestCheckMappingEarly(t *testing.T) {
	var b strings.Builder
	for i := range 3 * ProbeRows {
		fmt.Fprintf(&b, `{"user_id":"u-%d","name":"n"}`+"\n", i)
	}
	m := mustMapping(t, "reference_id=user_id", "metadata.plan=plan")
	r, err := Open(strings.NewReader(b.String()), Options{Format: FormatJSONL, Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	for range ProbeRows {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := usageText(r.CheckMapping()), `--map metadata.plan=plan: no line of the 1000 lines read has the key "plan"`; !strings.HasPrefix(got, want) {
		t.Fatalf("CheckMapping = %q", got)
	}
	if u := r.Unseen(); !slices.Equal(u, []string{"plan"}) {
		t.Fatalf("Unseen() = %q", u)
	}
}

// The exports of four real systems, each with the mapping its sample
// configuration uses, read under GA and validated as run would.
func TestExportShapes(t *testing.T) {
	now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		readCase
		valid string // ValidateAt under GA per record: "ok" or the problem, one per line
	}{
		{
			readCase: readCase{
				name: "Okta",
				file: "okta.csv",
				maps: []string{
					"reference_id=Username",
					"name={First name} {Last name}|{Primary email:local}",
					"email=Primary email",
					"name_hash=sha256({First name} {Last name})",
					"account_status=Status:ACTIVE=active,SUSPENDED=suspended,DEPROVISIONED=blocked",
					"onboarded_at=Created|2006-01-02T15:04:05.000Z",
					"country=Country code",
				},
				where: []string{"Status!=STAGED"},
				want: `2 {"external_id":"ada@example.com","name":"Ada Lovelace","country":"GB","email_hash":"sha256(ada@example.com)","name_hash":"sha256(ada lovelace)","onboarded_at":"2023-04-05T10:11:12Z","account_status":"active"}
3 {"external_id":"grace@example.com","name":"Grace","country":"US","email_hash":"sha256(grace@example.com)","name_hash":"sha256(grace)","onboarded_at":"2022-01-02T03:04:05Z","account_status":"suspended"}
4 {"external_id":"alan@example.com","name":"Turing","country":"UK","email_hash":"sha256(alan@example.com)","name_hash":"sha256(turing)","onboarded_at":"2021-06-07T08:09:10Z","account_status":"blocked"}
`,
				hashed:   []string{"ada@example.com", "ada lovelace", "grace@example.com", "grace", "alan@example.com", "turing"},
				filtered: 1,
				unused:   []string{},
			},
			valid: "ok\nok\nline 4: country: \"UK\" is not an ISO 3166-1 alpha-2 code; did you mean \"GB\"?\n",
		},
		{
			readCase: readCase{
				name: "Okta without a filter: STAGED is a row problem",
				file: "okta.csv",
				maps: []string{"reference_id=Username", "account_status=Status:ACTIVE=active,SUSPENDED=suspended,DEPROVISIONED=blocked", "country={Country code:upper}"},
				want: `2 {"external_id":"ada@example.com","country":"GB","account_status":"active"}
3 {"external_id":"grace@example.com","country":"US","account_status":"suspended"}
4 {"external_id":"alan@example.com","country":"UK","account_status":"blocked"}
5 !value_not_mapped account_status: "STAGED" (column "Status") is not in the --map value table; add STAGED=VALUE, or *=VALUE for every other value
`,
			},
			valid: "ok\nok\nline 4: country: \"UK\" is not an ISO 3166-1 alpha-2 code; did you mean \"GB\"?\n-\n",
		},
		{
			readCase: readCase{
				name: "Entra ID",
				file: "entra.csv",
				maps: []string{
					"reference_id=id",
					"name=displayName|{userPrincipalName:local}",
					"email=mail",
					"account_status=accountEnabled:true=active,false=suspended",
					"onboarded_at=createdDateTime|1/2/2006 3:04:05 PM",
					"country=usageLocation",
				},
				where: []string{"userType=Member"},
				want: `2 {"external_id":"6f1c2f0e-0001","name":"Ada Lovelace","country":"GB","email_hash":"sha256(ada@contoso.com)","onboarded_at":"2021-05-13T06:32:21Z","account_status":"active"}
3 {"external_id":"6f1c2f0e-0002","name":"grace","country":"US","email_hash":"sha256(grace@contoso.com)","onboarded_at":"2020-12-01T23:00:00Z","account_status":"suspended"}
`,
				hashed:   []string{"ada@contoso.com", "grace@contoso.com"},
				filtered: 1,
				unused:   []string{},
			},
			valid: "ok\nok\n",
		},
		{
			readCase: readCase{
				name:   "Auth0",
				file:   "auth0.jsonl",
				format: FormatJSONL,
				maps: []string{
					"reference_id=user_id",
					"metadata.plan=app_metadata.plan",
					"name_hash=sha256(name)",
					"account_status=blocked:true=blocked,false=active",
					"onboarded_at=created_at|rfc3339",
				},
				want: `1 {"external_id":"auth0|5f7c8ec7c33c6c004bbafe82","name":"Ada Lovelace","metadata":{"plan":"pro"},"email_hash":"sha256(ada@example.com)","name_hash":"sha256(ada lovelace)","onboarded_at":"2023-04-05T10:11:12.123Z","account_status":"active"}
2 {"external_id":"google-oauth2|1234","name":"Grace Hopper","email_hash":"sha256(grace@example.com)","name_hash":"sha256(grace hopper)","onboarded_at":"2022-01-02T03:04:05Z","account_status":"blocked"}
3 !wrong_type app_metadata.plan: must be a string, found a number
`,
				hashed: []string{"ada@example.com", "ada lovelace", "grace@example.com", "grace hopper"},
			},
			valid: "ok\nok\n-\n",
		},
		{
			readCase: readCase{
				name: "Stripe customers",
				file: "stripe.csv",
				maps: []string{
					"reference_id=id",
					"country={address_country:upper}",
					"onboarded_at=created|unix",
					"entity_type=description:reseller=business,*=individual",
					"access_type=description:reseller=passthrough,*=application",
				},
				want: `2 {"external_id":"cus_NffrFeUfNV2Hib","name":"Jenny Rosen","country":"US","email_hash":"sha256(jenny.rosen@example.com)","onboarded_at":"2023-04-07T18:59:53Z"}
3 {"external_id":"cus_Nffr0002","name":"Acme Corp","access_type":"passthrough","country":"DE","email_hash":"sha256(billing@acme.example)","onboarded_at":"2023-03-28T10:40:00Z","entity_type":"business"}
4 {"external_id":"cus_Nffr0003","onboarded_at":"2023-03-28T10:40:01.5Z"}
`,
				hashed: []string{"jenny.rosen@example.com", "billing@acme.example"},
				unused: []string{},
			},
			valid: "ok\nok\nok\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.version = profile.VersionGA
			tc.readCase.run(t)
			input := testdata(t, tc.file)
			w, _ := ParseWhere(tc.where)
			_, recs, err := readAll(t, input, Options{Format: cmpFormat(tc.format), Version: profile.VersionGA, Mapping: mustMapping(t, tc.maps...), Where: w})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, rec := range recs {
				switch p := profile.ValidateAt(rec.Request, profile.VersionGA, now); {
				case rec.Problem != nil:
					b.WriteString("-\n")
				case p != nil:
					b.WriteString(p.At(rec.Line) + "\n")
				default:
					b.WriteString("ok\n")
				}
			}
			if b.String() != tc.valid {
				t.Errorf("validation\n got:\n%s\nwant:\n%s", b.String(), tc.valid)
			}
		})
	}
}

func cmpFormat(f Format) Format {
	if f == "" {
		return FormatCSV
	}
	return f
}
