package secret

import "testing"

func TestInline(t *testing.T) {
	cases := map[string]struct {
		key, value string
		refused    bool
	}{
		"env reference":              {"password", "env:DB_PASSWORD", false},
		"file reference":             {"password", "file:./pw.txt", false},
		"literal password":           {"password", "Hunter2", true},
		"constant expression":        {"password", "${{ 'Hunter2' }}", true},
		"params expression":          {"dbPassword", "${{ params.pw }}", true},
		"signing key literal":        {"planSigningKey", "abc", true},
		"url with password":          {"dsn", "sqlserver://user:Hunter2@host:1433", true},
		"url with expression":        {"dsn", "sqlserver://user:${{ 'Hunter2' }}@host", true},
		"url without password":       {"dsn", "sqlserver://user@host:1433?database=x", false},
		"url with empty password":    {"dsn", "sqlserver://user:@host", false},
		"ado password":               {"dsn", "Server=tcp:h,1433;User ID=u;Password=Hunter2;", true},
		"ado pwd lower case, spaces": {"conn", "server=h; pwd = Hunter2", true},
		"ado without password":       {"conn", "Server=h;Authentication=Active Directory Default", false},
		"plain value":                {"server", "sql-1", false},
		"token in a query":           {"url", "https://api.example/health?x=1&access_token=abc", true},
		"harmless query":             {"url", "https://api.example/health?x=1&keyType=int", false},
		"authorization header":       {"Authorization", "Bearer abc123", true},
		"authorization reference":    {"Authorization", "env:AUTH_HEADER", false},
		"url no userinfo":            {"url", "https://example.com/a:b@c", false},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			why, _ := Inline(c.key, c.value)
			if (why != "") != c.refused {
				t.Fatalf("Inline(%q, %q) = %q, refused want %v", c.key, c.value, why, c.refused)
			}
		})
	}
}

func TestRedactor(t *testing.T) {
	var r Redactor
	r.Add("Hunter2secret")
	if got := r.String("pw=Hunter2secret!"); got != "pw="+Mask+"!" {
		t.Fatalf("got %q", got)
	}
}

// BenchmarkInline is the check every scalar of a plan passes through.
func BenchmarkInline(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Inline("shard", "customers_17")
		Inline("low", "50000")
	}
}
