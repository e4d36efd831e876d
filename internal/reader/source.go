package reader

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/transform"
)

const (
	bomUTF8    = "\xef\xbb\xbf"
	bomUTF16LE = "\xff\xfe"
	bomUTF16BE = "\xfe\xff"
)

// decode wraps r so that it yields UTF-8 text without a byte-order mark,
// after checking that the start of the input agrees with the encoding asked
// for. The result is buffered with at least sniffSize bytes so that callers
// can peek at the start of the text. raw is the buffer over r itself.
func decode(r io.Reader, encoding string) (in, raw *bufio.Reader, err error) {
	in, raw, err = decodeFrom(bufio.NewReaderSize(r, sniffSize), encoding)
	return in, raw, err
}

func decodeFrom(raw *bufio.Reader, encoding string) (*bufio.Reader, *bufio.Reader, error) {
	prefix, err := raw.Peek(sniffSize)
	atEOF := false
	switch {
	case err == io.EOF:
		atEOF = true
	case err != nil && !errors.Is(err, bufio.ErrBufferFull):
		return nil, nil, err
	}
	bom := ""
	switch {
	case bytes.HasPrefix(prefix, []byte(bomUTF8)):
		bom = bomUTF8
	case bytes.HasPrefix(prefix, []byte(bomUTF16LE)), bytes.HasPrefix(prefix, []byte(bomUTF16BE)):
		bom = bomUTF16LE // either order; only the length and the kind matter below
	}
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "", "utf-8", "utf8":
		if bom == bomUTF16LE {
			return nil, nil, usagef("the file is UTF-16 (it starts with a UTF-16 byte-order mark); re-run with --encoding utf-16")
		}
		if bom == bomUTF8 {
			prefix = prefix[len(bomUTF8):]
			if _, err := raw.Discard(len(bomUTF8)); err != nil {
				return nil, nil, err
			}
		}
		// Only an unstated encoding is sniffed: --encoding utf-8 is how a user
		// says the file is UTF-8 and wants stray bytes reported row by row.
		if encoding == "" {
			if err := checkUTF8(prefix, atEOF); err != nil {
				return nil, nil, err
			}
		}
		return raw, raw, nil
	case "windows-1252", "windows1252", "cp1252":
		if err := singleByteBOM(bom, "windows-1252"); err != nil {
			return nil, nil, err
		}
		return bufio.NewReaderSize(transform.NewReader(raw, charmap.Windows1252.NewDecoder()), sniffSize), raw, nil
	case "latin1", "latin-1", "iso-8859-1", "iso8859-1":
		if err := singleByteBOM(bom, "latin1"); err != nil {
			return nil, nil, err
		}
		return bufio.NewReaderSize(transform.NewReader(raw, charmap.ISO8859_1.NewDecoder()), sniffSize), raw, nil
	case "utf-16", "utf16":
		// The byte-order mark decides the endianness (and strips itself);
		// without one, little-endian is what Windows tools write.
		dec := unicode.BOMOverride(unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM).NewDecoder())
		return bufio.NewReaderSize(transform.NewReader(raw, dec), sniffSize), raw, nil
	}
	return nil, nil, usagef("unknown encoding %q; use utf-8, windows-1252, latin1 or utf-16", encoding)
}

// singleByteBOM refuses a byte-order mark under a single-byte encoding: the
// mark proves the file is Unicode, and decoding it as bytes would garble it.
func singleByteBOM(bom, name string) error {
	switch bom {
	case bomUTF8:
		return usagef("the file is UTF-8 (it starts with a UTF-8 byte-order mark), not %s; re-run without --encoding", name)
	case bomUTF16LE:
		return usagef("the file is UTF-16 (it starts with a UTF-16 byte-order mark), not %s; re-run with --encoding utf-16", name)
	}
	return nil
}

// checkUTF8 refuses a start of file that is not UTF-8. Invalid bytes there
// nearly always mean a whole file in a legacy encoding, which would
// otherwise fail row by row; bytes past the sniffed prefix are left for the
// validator to report on their own row.
func checkUTF8(p []byte, atEOF bool) error {
	if !atEOF {
		// The window may cut the last character in two.
		for k := 1; k <= utf8.UTFMax-1 && k <= len(p); k++ {
			if utf8.RuneStart(p[len(p)-k]) {
				if !utf8.FullRune(p[len(p)-k:]) {
					p = p[:len(p)-k]
				}
				break
			}
		}
	}
	if utf8.Valid(p) {
		return nil
	}
	off := 0
	for off < len(p) {
		r, n := utf8.DecodeRune(p[off:])
		if r == utf8.RuneError && n == 1 {
			break
		}
		off += n
	}
	line := 1 + bytes.Count(p[:off], []byte{'\n'})
	start := bytes.LastIndexByte(p[:off], '\n') + 1
	col := 1 + utf8.RuneCount(p[start:off])
	return usagef("line %d: not valid UTF-8 (byte 0x%02X at column %d); looks like Windows-1252/Latin-1; re-run with --encoding windows-1252 or convert to UTF-8",
		line, p[off], col)
}

// detectDelimiter picks the most frequent of ',', ';' and tab in the header
// line, counting only outside quotes; ties and a one-column header give ','.
func detectDelimiter(text []byte) byte {
	// csv skips blank lines before the header, so the sniff does too.
	for {
		switch {
		case bytes.HasPrefix(text, []byte("\n")):
			text = text[1:]
			continue
		case bytes.HasPrefix(text, []byte("\r\n")):
			text = text[2:]
			continue
		}
		break
	}
	var comma, semi, tab int
	quoted := false
scan:
	for _, c := range text {
		switch c {
		case '"':
			quoted = !quoted // a doubled quote toggles twice, which is right
		case '\n':
			if !quoted {
				break scan
			}
		case ',':
			if !quoted {
				comma++
			}
		case ';':
			if !quoted {
				semi++
			}
		case '\t':
			if !quoted {
				tab++
			}
		}
	}
	switch {
	case semi > comma && semi >= tab:
		return ';'
	case tab > comma && tab > semi:
		return '\t'
	}
	return ','
}

// validDelimiter reports whether d can separate CSV fields: one ASCII byte
// that is not a quote, a line break or NUL (what encoding/csv accepts, minus
// multi-byte runes, which the record splitter does not handle).
func validDelimiter(d rune) error {
	if d <= 0 || d >= utf8.RuneSelf || d == '"' || d == '\r' || d == '\n' {
		return usagef("the delimiter %s cannot be used; use one ASCII character other than a quote or a line break, e.g. ',', ';' or a tab", fmt.Sprintf("%q", d))
	}
	return nil
}
