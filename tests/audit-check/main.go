// Command audit-check is an independent checker for kura's audit log (docs/audit-format.md).
//
// It shares no code with kura: the Merkle tree (RFC 6962), the proofs and the tile arithmetic
// come from golang.org/x/mod/sumdb/tlog, the signed notes from golang.org/x/mod/sumdb/note.
// What this file adds is only what those packages leave to the caller: the C2SP checkpoint
// body (tlog.ParseTree expects the go.sum text, not C2SP's), the C2SP tile paths on disk
// (tlog's Tile.Path includes the tile height, C2SP's does not), the entry bundles, and the
// JSON of kura's evidence files.
//
// Build (Debian 12, GOPATH mode, no network):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOCACHE=$(mktemp -d) \
//	    go build -o audit-check tests/audit-check/main.go
//
// Usage:
//
//	audit-check tree --dir DATA/audit --vkey VKEY [--checkpoint FILE] [--fallback full|any]
//	audit-check proof --bundle FILE [--vkey VKEY] [--dir DATA/audit]
//	audit-check consistency --proof FILE --vkey VKEY [--dir DATA/audit]
//
// Exit status: 0 when everything checks, 1 when something does not (the reason on stderr),
// 2 for a usage error. With --dir, proof and consistency also rebuild the proof from the log's
// tiles with tlog.ProveRecord / tlog.ProveTree and compare it element by element with kura's,
// so that an ordering difference is named exactly instead of showing up as a bare failure.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const (
	tileHeight = 8 // C2SP tlog-tiles: 256 hashes to a full tile
	tileWidth  = 1 << tileHeight
	maxRecord  = 1<<16 - 1 // a bundle's length prefix is a uint16
)

var b64 = base64.StdEncoding.Strict()

// ---- checkpoints ---------------------------------------------------------------------------

// checkpoint is the body of a C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint).
type checkpoint struct {
	Origin     string
	Size       int64
	Root       tlog.Hash
	Extensions []string
}

// parseCheckpoint parses "<origin>\n<size>\n<base64 root>\n[<extension>\n]...".
// tlog.ParseTree is not usable: it wants "go.sum database tree\n" as the first line.
func parseCheckpoint(text string) (checkpoint, error) {
	var cp checkpoint
	if !strings.HasSuffix(text, "\n") {
		return cp, errors.New("checkpoint body does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	if len(lines) < 3 {
		return cp, fmt.Errorf("checkpoint body has %d lines, want at least 3", len(lines))
	}
	cp.Origin = lines[0]
	if cp.Origin == "" {
		return cp, errors.New("checkpoint origin line is empty")
	}
	// Decimal, no sign, no leading zeros (except "0" itself).
	s := lines[1]
	if s == "" || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return cp, fmt.Errorf("checkpoint size %q is not a canonical decimal", s)
	}
	size, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return cp, fmt.Errorf("checkpoint size %q: %v", s, err)
	}
	cp.Size = size
	root, err := decodeHash(lines[2])
	if err != nil {
		return cp, fmt.Errorf("checkpoint root: %v", err)
	}
	cp.Root = root
	for _, ext := range lines[3:] {
		if ext == "" {
			return cp, errors.New("checkpoint has an empty extension line")
		}
	}
	cp.Extensions = lines[3:]
	return cp, nil
}

func decodeHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := b64.DecodeString(s)
	if err != nil {
		return h, fmt.Errorf("%q is not standard padded base64: %v", s, err)
	}
	if len(b) != tlog.HashSize {
		return h, fmt.Errorf("%q decodes to %d bytes, want %d", s, len(b), tlog.HashSize)
	}
	copy(h[:], b)
	return h, nil
}

func newVerifier(vkey string) (note.Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("verifier key %q: %v", vkey, err)
	}
	return v, nil
}

// openCheckpoint verifies the signed note with v (note.Open) and parses its body. The key's
// name must be the checkpoint's origin (docs/audit-format.md; the usual C2SP convention).
func openCheckpoint(what string, msg []byte, v note.Verifier) (checkpoint, error) {
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		var unverified *note.UnverifiedNoteError
		if errors.As(err, &unverified) {
			var names []string
			for _, s := range unverified.Note.UnverifiedSigs {
				names = append(names, fmt.Sprintf("%s+%08x", s.Name, s.Hash))
			}
			return checkpoint{}, fmt.Errorf("%s: note.Open: %v (signatures by: %s; want %s+%08x)",
				what, err, strings.Join(names, ", "), v.Name(), v.KeyHash())
		}
		return checkpoint{}, fmt.Errorf("%s: note.Open: %v", what, err)
	}
	cp, err := parseCheckpoint(n.Text)
	if err != nil {
		return cp, fmt.Errorf("%s: %v", what, err)
	}
	if cp.Origin != v.Name() {
		return cp, fmt.Errorf("%s: origin %q is not the key's name %q", what, cp.Origin, v.Name())
	}
	return cp, nil
}

// ---- tiles on disk -------------------------------------------------------------------------

// c2spTilePath is the C2SP path of a hash tile (level >= 0) or an entry bundle (level -1):
// tlog's Tile.Path without its height element ("tile/8/L/..." -> "tile/L/..."), and with
// "entries" where tlog says "data". Using tlog's own path code means its N encoding
// (x001/x234/067) and ".p/W" suffix are what is checked against kura's files.
func c2spTilePath(level int, n int64, w int) string {
	p := tlog.Tile{H: tileHeight, L: level, N: n, W: w}.Path()
	prefix := fmt.Sprintf("tile/%d/", tileHeight)
	if !strings.HasPrefix(p, prefix) {
		panic("unexpected tlog tile path " + p)
	}
	p = "tile/" + strings.TrimPrefix(p, prefix)
	if level == -1 {
		p = "tile/entries/" + strings.TrimPrefix(p, "tile/data/")
	}
	return p
}

// Fallbacks for a partial tile or bundle that is absent (a tree older than the latest).
const (
	fallbackNone = ""     // exactly the file the tile names
	fallbackFull = "full" // else the full tile, cut to width: what c2sp.org/tlog-tiles allows
	fallbackAny  = "any"  // else also a wider partial tile (or, for records, audit/current)
)

func checkFallback(f string) error {
	if f != fallbackNone && f != fallbackFull && f != fallbackAny {
		return usageError(fmt.Sprintf("--fallback %q: want full or any", f))
	}
	return nil
}

// fallbackWidths lists the widths that may stand in for an absent tile of width w.
func fallbackWidths(w int, fallback string) []int {
	var out []int
	if w < tileWidth && fallback != fallbackNone {
		out = append(out, tileWidth)
		if fallback == fallbackAny {
			for ww := tileWidth - 1; ww > w; ww-- {
				out = append(out, ww)
			}
		}
	}
	return out
}

// dirTiles is a tlog.TileReader over DATA/audit.
type dirTiles struct {
	dir      string
	fallback string
}

func (d *dirTiles) Height() int { return tileHeight }

func (d *dirTiles) SaveTiles(tiles []tlog.Tile, data [][]byte) {}

func (d *dirTiles) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		b, err := d.readTile(t.L, t.N, t.W)
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

func (d *dirTiles) readTile(level int, n int64, w int) ([]byte, error) {
	want := w * tlog.HashSize
	p := c2spTilePath(level, n, w)
	b, err := os.ReadFile(filepath.Join(d.dir, p))
	if err == nil {
		if len(b) != want {
			return nil, fmt.Errorf("%s: %d bytes, want %d (%d hashes)", p, len(b), want, w)
		}
		return b, nil
	}
	ws := fallbackWidths(w, d.fallback)
	if !errors.Is(err, os.ErrNotExist) || len(ws) == 0 {
		return nil, fmt.Errorf("tile %s: %v", p, err)
	}
	for _, ww := range ws {
		q := c2spTilePath(level, n, ww)
		b, err := os.ReadFile(filepath.Join(d.dir, q))
		if err != nil {
			continue
		}
		if len(b) != ww*tlog.HashSize {
			return nil, fmt.Errorf("%s: %d bytes, want %d", q, len(b), ww*tlog.HashSize)
		}
		return b[:want], nil
	}
	return nil, fmt.Errorf("tile %s is absent, and so is every tile that may stand in for it "+
		"(--fallback %q)", p, d.fallback)
}

// ---- entry bundles -------------------------------------------------------------------------

// parseBundle splits a bundle (uint16 big-endian length + record, repeated). With exact, the
// data must hold exactly count records and nothing else; otherwise at least count records
// (audit/current may run ahead of the checkpoint) and only the first count are returned.
func parseBundle(name string, data []byte, count int, exact bool) ([][]byte, error) {
	var recs [][]byte
	off := 0
	for len(recs) < count {
		if len(data)-off < 2 {
			return nil, fmt.Errorf("%s: truncated: %d of %d records, %d bytes left at offset %d",
				name, len(recs), count, len(data)-off, off)
		}
		n := int(binary.BigEndian.Uint16(data[off:]))
		if n == 0 {
			return nil, fmt.Errorf("%s: record %d at offset %d has length 0", name, len(recs), off)
		}
		if len(data)-off-2 < n {
			return nil, fmt.Errorf("%s: truncated: record %d at offset %d claims %d bytes, %d left",
				name, len(recs), off, n, len(data)-off-2)
		}
		recs = append(recs, data[off+2:off+2+n])
		off += 2 + n
	}
	if exact && off != len(data) {
		return nil, fmt.Errorf("%s: %d bytes after its %d records", name, len(data)-off, count)
	}
	return recs, nil
}

// readRecords reads the first size records from the entry bundles: the full bundles
// tile/entries/<N>, then the checkpoint's partial bundle tile/entries/<N>.p/<W>. An absent
// partial bundle may be cut from the full one (fallback full), or also from a wider partial
// one or kura's audit/current (fallback any).
func readRecords(dir string, size int64, fallback string, notes *[]string) ([][]byte, error) {
	var recs [][]byte
	full := size / tileWidth
	for n := int64(0); n < full; n++ {
		p := c2spTilePath(-1, n, tileWidth)
		data, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			return nil, fmt.Errorf("entry bundle: %v", err)
		}
		r, err := parseBundle(p, data, tileWidth, true)
		if err != nil {
			return nil, err
		}
		recs = append(recs, r...)
	}
	w := int(size % tileWidth)
	if w == 0 {
		return recs, nil
	}
	p := c2spTilePath(-1, full, w)
	data, err := os.ReadFile(filepath.Join(dir, p))
	if err == nil {
		r, err := parseBundle(p, data, w, true)
		if err != nil {
			return nil, err
		}
		return append(recs, r...), nil
	}
	ws := fallbackWidths(w, fallback)
	if !errors.Is(err, os.ErrNotExist) || len(ws) == 0 {
		return nil, fmt.Errorf("partial entry bundle: %v", err)
	}
	var candidates []string
	for _, ww := range ws {
		candidates = append(candidates, c2spTilePath(-1, full, ww))
	}
	if fallback == fallbackAny {
		candidates = append(candidates, "current")
	}
	for _, q := range candidates {
		data, err := os.ReadFile(filepath.Join(dir, q))
		if err != nil {
			continue
		}
		r, err := parseBundle(q, data, w, false)
		if err != nil {
			return nil, err
		}
		*notes = append(*notes, fmt.Sprintf("%s is absent: read the first %d records of %s",
			p, w, q))
		return append(recs, r...), nil
	}
	return nil, fmt.Errorf("partial entry bundle %s is absent, and so is every bundle that may "+
		"stand in for it (--fallback %q)", p, fallback)
}

// memHashes is a tlog.HashReader over stored hashes computed in memory.
type memHashes []tlog.Hash

func (m memHashes) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		if x < 0 || x >= int64(len(m)) {
			return nil, fmt.Errorf("stored hash %d not computed (have %d)", x, len(m))
		}
		out[i] = m[x]
	}
	return out, nil
}

// ---- tree ----------------------------------------------------------------------------------

func cmdTree(args []string) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	dir := fs.String("dir", "", "the log's directory, DATA/audit")
	vkey := fs.String("vkey", "", "verifier key (kura audit key --data DATA)")
	cpFile := fs.String("checkpoint", "", "the checkpoint to check (default: DIR/checkpoint)")
	fallback := fs.String("fallback", "", "for an absent partial tile or bundle: full (the "+
		"full one, as C2SP allows) or any (also a wider partial one, or audit/current)")
	if err := fs.Parse(args); err != nil || *dir == "" || *vkey == "" || fs.NArg() != 0 {
		return usageError("audit-check tree --dir DATA/audit --vkey VKEY " +
			"[--checkpoint FILE] [--fallback full|any]")
	}
	if err := checkFallback(*fallback); err != nil {
		return err
	}
	v, err := newVerifier(*vkey)
	if err != nil {
		return err
	}
	if *cpFile == "" {
		*cpFile = filepath.Join(*dir, "checkpoint")
	}
	msg, err := os.ReadFile(*cpFile)
	if err != nil {
		return err
	}
	cp, err := openCheckpoint("checkpoint", msg, v)
	if err != nil {
		return err
	}
	var notes []string

	// The empty tree: RFC 6962's root is SHA-256(""); tlog.TreeHash(0) returns a zero Hash.
	if cp.Size == 0 {
		if cp.Root != tlog.Hash(sha256.Sum256(nil)) {
			return fmt.Errorf("empty tree: root %s, want SHA-256(\"\")", cp.Root)
		}
		fmt.Printf("ok size=0 root=%s\n", cp.Root)
		return nil
	}

	// 1. The tiles, through tlog's own tile reader, authenticated against the signed root.
	{
		tiles := &dirTiles{dir: *dir, fallback: *fallback}
		tr := tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Root}, tiles)
		th, err := tlog.TreeHash(cp.Size, tr)
		if err != nil {
			return fmt.Errorf("tiles: tlog.TreeHash(%d) over tile/: %v", cp.Size, err)
		}
		if th != cp.Root {
			return fmt.Errorf("tiles: tree hash %s, checkpoint root %s", th, cp.Root)
		}
	}

	// 2. The records, hashed by tlog.RecordHash, and every stored hash recomputed from them.
	recs, err := readRecords(*dir, cp.Size, *fallback, &notes)
	if err != nil {
		return err
	}
	var stored memHashes
	leaves := make([]tlog.Hash, len(recs))
	for i, rec := range recs {
		leaves[i] = tlog.RecordHash(rec)
		h, err := tlog.StoredHashes(int64(i), rec, stored)
		if err != nil {
			return fmt.Errorf("record %d: tlog.StoredHashes: %v", i, err)
		}
		stored = append(stored, h...)
	}

	// 3. Every tile of the tree (full and partial, all levels) against the recomputed hashes;
	//    level 0 names the record whose leaf hash differs.
	tiles := &dirTiles{dir: *dir, fallback: *fallback}
	for _, t := range tlog.NewTiles(tileHeight, 0, cp.Size) {
		// NewTiles lists every partial width a log growing from 0 would have published;
		// the tree of this size has only the widest one.
		if t.W != tileWidth && int64(t.W) != (cp.Size>>(uint(t.L)*tileHeight))%tileWidth {
			continue
		}
		data, err := tiles.readTile(t.L, t.N, t.W)
		if err != nil {
			return err
		}
		for j := 0; j < t.W; j++ {
			var got tlog.Hash
			copy(got[:], data[j*tlog.HashSize:])
			idx := t.N*tileWidth + int64(j)
			want := stored[tlog.StoredHashIndex(t.L*tileHeight, idx)]
			if got == want {
				continue
			}
			p := c2spTilePath(t.L, t.N, t.W)
			if t.L == 0 {
				return fmt.Errorf("record %d: leaf hash %s of its entry bundle differs from %s "+
					"entry %d (%s)", idx, leaves[idx], p, j, got)
			}
			return fmt.Errorf("%s entry %d: %s, recomputed from the records %s", p, j, got, want)
		}
	}

	// 4. The chain inside the records (docs/audit-format.md, "Records").
	prev := strings.Repeat("0", 64)
	for i, rec := range recs {
		if err := checkRecordLinks(i, rec, prev); err != nil {
			return err
		}
		prev = hex.EncodeToString(leaves[i][:])
	}

	// 5. The root from the records alone.
	root, err := tlog.TreeHash(cp.Size, stored)
	if err != nil {
		return fmt.Errorf("records: tlog.TreeHash: %v", err)
	}
	if root != cp.Root {
		return fmt.Errorf("records: the %d records hash to %s, the checkpoint says %s",
			cp.Size, root, cp.Root)
	}
	for _, n := range notes {
		fmt.Fprintln(os.Stderr, "note:", n)
	}
	fmt.Printf("ok size=%d root=%s\n", cp.Size, cp.Root)
	return nil
}

// checkRecordLinks checks the two fields of a record that tie it to the tree
// (docs/audit-format.md, "Records"): index is its position, prev the previous leaf hash.
func checkRecordLinks(i int, rec []byte, prev string) error {
	var r struct {
		Index *int64  `json:"index"`
		Prev  *string `json:"prev"`
	}
	if err := json.Unmarshal(rec, &r); err != nil {
		return fmt.Errorf("record %d: not JSON: %v", i, err)
	}
	if r.Index == nil || *r.Index != int64(i) {
		return fmt.Errorf("record %d: its index field is %v", i, jsonOrNil(r.Index))
	}
	if r.Prev == nil || *r.Prev != prev {
		return fmt.Errorf("record %d: prev %v, the previous leaf hash is %s", i, jsonOrNil(r.Prev), prev)
	}
	return nil
}

func jsonOrNil(v interface{}) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ---- proof ---------------------------------------------------------------------------------

type evidence struct {
	Format         *string  `json:"format"`
	Origin         *string  `json:"origin"`
	Vkey           *string  `json:"vkey"`
	Index          *int64   `json:"index"`
	Record         *string  `json:"record"`
	LeafHash       *string  `json:"leaf_hash"`
	TreeSize       *int64   `json:"tree_size"`
	InclusionProof []string `json:"inclusion_proof"`
	Checkpoint     *string  `json:"checkpoint"`
}

func decodeProof(field string, elems []string) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(elems))
	for i, s := range elems {
		h, err := decodeHash(s)
		if err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", field, i, err)
		}
		out[i] = h
	}
	return out, nil
}

func readJSON(path string, v interface{}) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%s: %v", path, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%s: data after the JSON object", path)
	}
	return nil
}

func missing(fields map[string]bool) error {
	var names []string
	for _, n := range []string{"format", "origin", "vkey", "index", "record", "leaf_hash",
		"tree_size", "inclusion_proof", "checkpoint", "old_size", "new_size",
		"consistency_proof", "old_checkpoint", "new_checkpoint"} {
		if present, asked := fields[n]; asked && !present {
			names = append(names, n)
		}
	}
	if len(names) > 0 {
		return fmt.Errorf("missing fields: %s", strings.Join(names, ", "))
	}
	return nil
}

func reversed(p []tlog.Hash) []tlog.Hash {
	r := make([]tlog.Hash, len(p))
	for i := range p {
		r[len(p)-1-i] = p[i]
	}
	return r
}

// compareProofs names the first difference between kura's proof and tlog's.
func compareProofs(kind string, kura, golang []tlog.Hash) error {
	if len(kura) != len(golang) {
		return fmt.Errorf("%s has %d elements, tlog's has %d", kind, len(kura), len(golang))
	}
	for i := range kura {
		if kura[i] != golang[i] {
			if len(kura) > 1 && equalHashes(reversed(kura), golang) {
				return fmt.Errorf("%s lists tlog's elements in reverse order", kind)
			}
			return fmt.Errorf("%s[%d] = %s, tlog's = %s", kind, i, kura[i], golang[i])
		}
	}
	return nil
}

func equalHashes(a, b []tlog.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func cmdProof(args []string) error {
	fs := flag.NewFlagSet("proof", flag.ContinueOnError)
	bundle := fs.String("bundle", "", "evidence bundle (kura audit prove --out)")
	vkey := fs.String("vkey", "", "trusted verifier key (default: the bundle's own)")
	dir := fs.String("dir", "", "also rebuild the proof from this log's tiles and compare")
	if err := fs.Parse(args); err != nil || *bundle == "" || fs.NArg() != 0 {
		return usageError("audit-check proof --bundle FILE [--vkey VKEY] [--dir DATA/audit]")
	}
	var ev evidence
	if err := readJSON(*bundle, &ev); err != nil {
		return err
	}
	if err := missing(map[string]bool{"format": ev.Format != nil, "origin": ev.Origin != nil,
		"vkey": ev.Vkey != nil, "index": ev.Index != nil, "record": ev.Record != nil,
		"leaf_hash": ev.LeafHash != nil, "tree_size": ev.TreeSize != nil,
		"inclusion_proof": ev.InclusionProof != nil, "checkpoint": ev.Checkpoint != nil}); err != nil {
		return err
	}
	if *ev.Format != "kura-audit-evidence-v1" {
		return fmt.Errorf("format %q, want kura-audit-evidence-v1", *ev.Format)
	}
	key := *ev.Vkey
	if *vkey != "" {
		if strings.TrimSpace(*vkey) != *ev.Vkey {
			return fmt.Errorf("the bundle's vkey %q is not the trusted key %q", *ev.Vkey, *vkey)
		}
		key = *vkey
	}
	v, err := newVerifier(key)
	if err != nil {
		return err
	}
	cp, err := openCheckpoint("checkpoint", []byte(*ev.Checkpoint), v)
	if err != nil {
		return err
	}
	if cp.Origin != *ev.Origin {
		return fmt.Errorf("origin %q, the checkpoint's is %q", *ev.Origin, cp.Origin)
	}
	if cp.Size != *ev.TreeSize {
		return fmt.Errorf("tree_size %d, the checkpoint's size is %d", *ev.TreeSize, cp.Size)
	}
	index := *ev.Index
	if index < 0 || index >= cp.Size {
		return fmt.Errorf("index %d is outside the checkpoint's tree of %d records", index, cp.Size)
	}
	leaf := tlog.RecordHash([]byte(*ev.Record))
	claimed, err := decodeHash(*ev.LeafHash)
	if err != nil {
		return fmt.Errorf("leaf_hash: %v", err)
	}
	if leaf != claimed {
		return fmt.Errorf("record hashes to %s, leaf_hash says %s", leaf, claimed)
	}
	proof, err := decodeProof("inclusion_proof", ev.InclusionProof)
	if err != nil {
		return err
	}
	if *dir != "" {
		tr := tlog.TileHashReader(tlog.Tree{N: cp.Size, Hash: cp.Root},
			&dirTiles{dir: *dir, fallback: fallbackAny})
		golang, err := tlog.ProveRecord(cp.Size, index, tr)
		if err != nil {
			return fmt.Errorf("tlog.ProveRecord(%d, %d) over %s: %v", cp.Size, index, *dir, err)
		}
		if err := compareProofs("inclusion_proof", proof, golang); err != nil {
			return err
		}
	}
	if err := tlog.CheckRecord(tlog.RecordProof(proof), cp.Size, cp.Root, index, leaf); err != nil {
		why := ""
		if len(proof) > 1 && tlog.CheckRecord(tlog.RecordProof(reversed(proof)), cp.Size,
			cp.Root, index, leaf) == nil {
			why = " (it would check with its elements in reverse order: kura's order differs " +
				"from RFC 6962 PATH as tlog expects it, leaf side first)"
		}
		return fmt.Errorf("tlog.CheckRecord(index %d, size %d): %v%s", index, cp.Size, err, why)
	}
	// The record's own index field must agree with the position it was proven at.
	var rec struct {
		Index *int64 `json:"index"`
	}
	if err := json.Unmarshal([]byte(*ev.Record), &rec); err != nil {
		return fmt.Errorf("record is not JSON: %v", err)
	}
	if rec.Index == nil || *rec.Index != index {
		return fmt.Errorf("the record's index field is %s, it was proven at %d",
			jsonOrNil(rec.Index), index)
	}
	fmt.Printf("ok index=%d size=%d root=%s leaf=%s\n", index, cp.Size, cp.Root, leaf)
	return nil
}

// ---- consistency ---------------------------------------------------------------------------

type consistency struct {
	Format           *string  `json:"format"`
	OldSize          *int64   `json:"old_size"`
	NewSize          *int64   `json:"new_size"`
	ConsistencyProof []string `json:"consistency_proof"`
	OldCheckpoint    *string  `json:"old_checkpoint"`
	NewCheckpoint    *string  `json:"new_checkpoint"`
}

func cmdConsistency(args []string) error {
	fs := flag.NewFlagSet("consistency", flag.ContinueOnError)
	file := fs.String("proof", "", "output of kura audit consistency")
	vkey := fs.String("vkey", "", "verifier key (kura audit key --data DATA)")
	dir := fs.String("dir", "", "also rebuild the proof from this log's tiles and compare")
	if err := fs.Parse(args); err != nil || *file == "" || *vkey == "" || fs.NArg() != 0 {
		return usageError("audit-check consistency --proof FILE --vkey VKEY [--dir DATA/audit]")
	}
	var c consistency
	if err := readJSON(*file, &c); err != nil {
		return err
	}
	if err := missing(map[string]bool{"format": c.Format != nil, "old_size": c.OldSize != nil,
		"new_size": c.NewSize != nil, "consistency_proof": c.ConsistencyProof != nil,
		"old_checkpoint": c.OldCheckpoint != nil, "new_checkpoint": c.NewCheckpoint != nil}); err != nil {
		return err
	}
	if *c.Format != "kura-audit-consistency-v1" {
		return fmt.Errorf("format %q, want kura-audit-consistency-v1", *c.Format)
	}
	v, err := newVerifier(*vkey)
	if err != nil {
		return err
	}
	oldCp, err := openCheckpoint("old_checkpoint", []byte(*c.OldCheckpoint), v)
	if err != nil {
		return err
	}
	newCp, err := openCheckpoint("new_checkpoint", []byte(*c.NewCheckpoint), v)
	if err != nil {
		return err
	}
	if oldCp.Size != *c.OldSize || newCp.Size != *c.NewSize {
		return fmt.Errorf("old_size/new_size %d/%d, the checkpoints say %d/%d",
			*c.OldSize, *c.NewSize, oldCp.Size, newCp.Size)
	}
	if oldCp.Origin != newCp.Origin {
		return fmt.Errorf("the checkpoints are of two logs: %q and %q", oldCp.Origin, newCp.Origin)
	}
	if oldCp.Size < 1 || oldCp.Size > newCp.Size {
		return fmt.Errorf("sizes %d -> %d: the old tree must be non-empty and not larger",
			oldCp.Size, newCp.Size)
	}
	proof, err := decodeProof("consistency_proof", c.ConsistencyProof)
	if err != nil {
		return err
	}
	if *dir != "" {
		tr := tlog.TileHashReader(tlog.Tree{N: newCp.Size, Hash: newCp.Root},
			&dirTiles{dir: *dir, fallback: fallbackAny})
		golang, err := tlog.ProveTree(newCp.Size, oldCp.Size, tr)
		if err != nil {
			return fmt.Errorf("tlog.ProveTree(%d, %d) over %s: %v", newCp.Size, oldCp.Size, *dir, err)
		}
		if err := compareProofs("consistency_proof", proof, golang); err != nil {
			return err
		}
	}
	if err := tlog.CheckTree(tlog.TreeProof(proof), newCp.Size, newCp.Root, oldCp.Size,
		oldCp.Root); err != nil {
		why := ""
		if len(proof) > 1 && tlog.CheckTree(tlog.TreeProof(reversed(proof)), newCp.Size,
			newCp.Root, oldCp.Size, oldCp.Root) == nil {
			why = " (it would check with its elements in reverse order)"
		}
		return fmt.Errorf("tlog.CheckTree(%d -> %d): %v%s", oldCp.Size, newCp.Size, err, why)
	}
	fmt.Printf("ok old_size=%d new_size=%d old_root=%s new_root=%s\n",
		oldCp.Size, newCp.Size, oldCp.Root, newCp.Root)
	return nil
}

// ---- main ----------------------------------------------------------------------------------

type usageError string

func (u usageError) Error() string { return "usage: " + string(u) }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: audit-check tree|proof|consistency ...")
		os.Exit(2)
	}
	cmds := map[string]func([]string) error{
		"tree": cmdTree, "proof": cmdProof, "consistency": cmdConsistency,
	}
	cmd, ok := cmds[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "usage: audit-check tree|proof|consistency ...")
		os.Exit(2)
	}
	if err := cmd(os.Args[2:]); err != nil {
		var u usageError
		if errors.As(err, &u) {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "audit-check %s: FAIL: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
