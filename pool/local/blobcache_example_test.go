package local_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"

	"github.com/ebbflow/ebb/pool/local"
	"github.com/ebbflow/ebb/repository"
)

// A worker's blob cache in front of its driver's repository (here a
// directory): the first Get fetches, the next reads the cached copy, and
// a pool made with the cache as its Repository stages from it.
func ExampleBlobCache() {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "ebb-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	driver, err := repository.Open(filepath.Join(tmp, "driver"))
	if err != nil {
		log.Fatal(err)
	}
	d, err := driver.Put(ctx, strings.NewReader("an input"))
	if err != nil {
		log.Fatal(err)
	}

	cache, err := local.NewBlobCache(local.BlobCacheConfig{Dir: filepath.Join(tmp, "cache"), MaxBytes: 1 << 30, Origin: driver})
	if err != nil {
		log.Fatal(err)
	}
	for range 2 {
		r, err := cache.Get(ctx, d)
		if err != nil {
			log.Fatal(err)
		}
		b, err := io.ReadAll(r) // verified against d at the end
		r.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s\n", b)
	}
	st := cache.Stats()
	fmt.Println("fetched:", st.Misses, "hits:", st.Hits, "bytes:", st.FetchedBytes)
	// Output:
	// an input
	// an input
	// fetched: 1 hits: 1 bytes: 8
}
