package ident

import (
	"errors"
	"testing"
)

func TestOrgINN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"7707083893", nil}, // Sberbank
		{"6658021579", nil},
		{"7707083894", ErrCheck},
		{"770708389", ErrFormat},
		{"77070838930", ErrFormat},
		{"77070838a3", ErrFormat},
		{"", ErrFormat},
	} {
		if got := OrgINN(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("OrgINN(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestPersonINN(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"500100732259", nil},
		{"500100732250", ErrCheck},
		{"500100732269", ErrCheck},
		{"50010073225", ErrFormat},
	} {
		if got := PersonINN(tc.in); !errors.Is(got, tc.want) {
			t.Errorf("PersonINN(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestNormalizeSNILS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{"112-233-445 95", "11223344595", nil},
		{"11223344595", "11223344595", nil},
		{" 11223344595 ", "11223344595", nil},
		{"11223344596", "", ErrCheck},
		{"001-001-997 00", "00100199700", nil}, // below the checked range: any check number
		{"001-001-999 00", "", ErrCheck},
		{"1122334459", "", ErrFormat},
		{"112-233-44595", "", ErrFormat},
		{"abc", "", ErrFormat},
	} {
		got, err := NormalizeSNILS(tc.in)
		if got != tc.want || !errors.Is(err, tc.err) {
			t.Errorf("NormalizeSNILS(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// A check sum of exactly 100 or 101 gives check number 00, and one above 101
// is reduced modulo 101 first.
func TestSNILSCheckNumberEdges(t *testing.T) {
	t.Parallel()
	if _, err := NormalizeSNILS(withCheck("987654321")); err != nil {
		t.Fatal(err)
	}
	// 9*9+9*8+...: find prefixes whose sums hit the edges and verify symmetry.
	seen := map[int]bool{}
	for n := 2_000_000; n < 2_300_000 && len(seen) < 3; n += 7 {
		p := pad9(n)
		s := sum(p)
		if s == 100 || s == 101 || s == 202 {
			seen[s] = true
			if got, err := NormalizeSNILS(p + "00"); err != nil || got != p+"00" {
				t.Errorf("sum %d: %s00 should be valid, got %v", s, p, err)
			}
		}
	}
	if len(seen) == 0 {
		t.Fatal("no edge sums found")
	}
}

func withCheck(p string) string {
	s := sum(p)
	for s > 101 {
		s %= 101
	}
	if s >= 100 {
		s = 0
	}
	return p + string(rune('0'+s/10)) + string(rune('0'+s%10))
}

func sum(p string) int {
	s := 0
	for i := 0; i < 9; i++ {
		s += int(p[i]-'0') * (9 - i)
	}
	return s
}

func pad9(n int) string {
	b := []byte("000000000")
	for i := 8; i >= 0 && n > 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b)
}

func FuzzNormalizeSNILS(f *testing.F) {
	for _, s := range []string{"112-233-445 95", "11223344595", "00100199700", "", "---", "112-233-445 9٥"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := NormalizeSNILS(s)
		if err != nil {
			return
		}
		if len(got) != 11 {
			t.Fatalf("normalised %q to %q", s, got)
		}
		again, err := NormalizeSNILS(got)
		if err != nil || again != got {
			t.Fatalf("normal form %q is not stable: %q, %v", got, again, err)
		}
	})
}

func FuzzINN(f *testing.F) {
	for _, s := range []string{"7707083893", "500100732259", "", "77070838a3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if OrgINN(s) == nil && len(s) != 10 {
			t.Fatalf("accepted %q as an organisation INN", s)
		}
		if PersonINN(s) == nil && len(s) != 12 {
			t.Fatalf("accepted %q as a person's INN", s)
		}
	})
}

func TestSNILSOf(t *testing.T) {
	for _, n := range []int{1001999, 112233445, 999999999, 123456789, 2000000} {
		s := SNILSOf(n)
		if got, err := NormalizeSNILS(s); err != nil || got != s {
			t.Errorf("SNILSOf(%d) = %s: %v", n, s, err)
		}
	}
	if SNILSOf(112233445) != "11223344595" {
		t.Errorf("SNILSOf(112233445) = %s, want the documented 11223344595", SNILSOf(112233445))
	}
}
