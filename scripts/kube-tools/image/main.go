// Command image writes a single-layer container image as a docker-save
// tar, the format "ctr images import" and "docker load" read:
//
//	image -o out.tar -name ebb.test/worker:latest -entrypoint /usr/local/bin/ebb \
//		/usr/local/bin/ebb=path/to/ebb [PATH=FILE ...]
//
// Each PATH=FILE argument copies FILE (made executable) to PATH in the
// image. The layer also holds /etc/passwd, /etc/group (root and nobody)
// and a world-writable /tmp, which is all a static binary needs. Every
// time stamp is fixed, so the same files make the same image ID.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"
)

// epoch is every time stamp in the image.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const (
	passwd = "root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"
	group  = "root:x:0:\nnogroup:x:65534:\n"
)

func main() {
	out := flag.String("o", "", "`file` to write the image tar to")
	name := flag.String("name", "", "the image's `reference`, as ebb.test/worker:latest")
	entry := flag.String("entrypoint", "", "the image's entrypoint: a `path` in the image")
	flag.Parse()
	if *out == "" || *name == "" || *entry == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: image -o out.tar -name REF -entrypoint PATH PATH=FILE...")
		os.Exit(2)
	}
	files := map[string]string{}
	for _, a := range flag.Args() {
		p, f, ok := strings.Cut(a, "=")
		if !ok || !path.IsAbs(p) {
			fmt.Fprintf(os.Stderr, "image: %q: want /path/in/image=file\n", a)
			os.Exit(2)
		}
		files[path.Clean(p)[1:]] = f
	}
	if err := write(*out, *name, *entry, files); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

// write writes the image to out through a temporary file, renamed into
// place once complete.
func write(out, name, entry string, files map[string]string) error {
	layer, err := os.CreateTemp("", "layer-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(layer.Name())
	defer layer.Close()
	h := sha256.New()
	if err := writeLayer(io.MultiWriter(layer, h), files); err != nil {
		return err
	}
	layerSum := hex.EncodeToString(h.Sum(nil))
	size, err := layer.Seek(0, io.SeekEnd)
	if err != nil {
		return err
	}
	if _, err := layer.Seek(0, io.SeekStart); err != nil {
		return err
	}
	config, err := json.Marshal(map[string]any{
		"architecture": "amd64",
		"os":           "linux",
		"created":      epoch,
		"config": map[string]any{
			"Entrypoint": []string{entry},
			"Env":        []string{"PATH=/usr/local/bin:/usr/bin:/bin"},
			"WorkingDir": "/",
		},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{"sha256:" + layerSum}},
	})
	if err != nil {
		return err
	}
	configSum := sha256.Sum256(config)
	configName := hex.EncodeToString(configSum[:]) + ".json"
	layerName := layerSum + "/layer.tar"
	manifest, err := json.Marshal([]map[string]any{{
		"Config": configName, "RepoTags": []string{name}, "Layers": []string{layerName},
	}})
	if err != nil {
		return err
	}

	tmp, err := os.CreateTemp(path.Dir(out), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	tw := tar.NewWriter(tmp)
	if err := addBytes(tw, configName, config, 0o644); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: layerSum + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: layerName, Mode: 0o644, Size: size, ModTime: epoch}); err != nil {
		return err
	}
	if _, err := io.Copy(tw, layer); err != nil {
		return err
	}
	if err := addBytes(tw, "manifest.json", manifest, 0o644); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

// writeLayer writes the layer's tar: the base files, then files (path in
// the image without its leading slash: file on this machine), with every
// parent directory before its children.
func writeLayer(w io.Writer, files map[string]string) error {
	tw := tar.NewWriter(w)
	dirs := map[string]bool{}
	dir := func(p string, mode int64) error {
		if dirs[p] {
			return nil
		}
		dirs[p] = true
		return tw.WriteHeader(&tar.Header{Name: p + "/", Typeflag: tar.TypeDir, Mode: mode, ModTime: epoch})
	}
	var parents func(p string) error
	parents = func(p string) error {
		d := path.Dir(p)
		if d == "." {
			return nil
		}
		if err := parents(d); err != nil {
			return err
		}
		return dir(d, 0o755)
	}
	for _, d := range []string{"etc", "root", "usr/local/bin"} {
		if err := parents(d + "/x"); err != nil {
			return err
		}
	}
	if err := dir("tmp", 0o1777); err != nil {
		return err
	}
	if err := addBytes(tw, "etc/passwd", []byte(passwd), 0o644); err != nil {
		return err
	}
	if err := addBytes(tw, "etc/group", []byte(group), 0o644); err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if err := parents(p); err != nil {
			return err
		}
		if err := addFile(tw, p, files[p]); err != nil {
			return err
		}
	}
	return tw.Close()
}

func addBytes(tw *tar.Writer, name string, b []byte, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: mode, Size: int64(len(b)), ModTime: epoch}); err != nil {
		return err
	}
	_, err := tw.Write(b)
	return err
}

func addFile(tw *tar.Writer, name, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s: not a regular file", file)
	}
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: fi.Size(), ModTime: epoch}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}
