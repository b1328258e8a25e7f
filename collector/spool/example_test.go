package spool_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tamtam-ngo/tamtam/collector/spool"
)

// A server appends records and answers once Append returns; a drainer reads batches,
// stores them elsewhere and acknowledges them.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	sp, err := spool.Open(spool.Options{Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer sp.Close()

	ctx := context.Background()
	seqs, err := sp.Append(ctx, []byte("record a"), []byte("record b"))
	if err != nil {
		log.Fatal(err) // the server would answer 503 (errors.Is(err, spool.ErrFull)) or 500
	}
	fmt.Println("durable:", seqs)

	batch, err := sp.Read(0, 1000)
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range batch {
		fmt.Printf("insert %d %s\n", e.Seq, e.Data)
	}
	if err := sp.Ack(batch[len(batch)-1].Seq); err != nil {
		log.Fatal(err)
	}
	fmt.Println("pending:", sp.Stats().Depth)
	// Output:
	// durable: [1 2]
	// insert 1 record a
	// insert 2 record b
	// pending: 0
}
