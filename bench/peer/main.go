// grpc-gateway-peer: the bench's peer, grpc-gateway (v1, the Debian build) in
// front of music-service, so that music-bench measures our gateway and the
// best-known one side by side on the same service and store (issue 14).
//
// Owns: the peer program only — flags, one insecure gRPC connection to the
// upstream, the generated TableService and ItemService handlers on grpc-gateway's
// runtime.ServeMux, HTTP/1.1 on the listen address, and the
// `listening on ADDR protocol="http"` line on stderr that music-bench (testkit's
// Program) reads the bound port from.
//
// Hand-written because it is the few lines of set-up every grpc-gateway
// deployment writes; the handlers themselves are generated from
// proto/music/v1 by scripts/lib/grpc-gateway-peer.sh, which builds this in
// GOPATH mode against Debian's packages (no Go module downloads).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/grpc-ecosystem/grpc-gateway/runtime"
	// The service's errors carry a google.rpc.ErrorInfo detail: its type is
	// registered here so that grpc-gateway can write it into the error body
	// (unregistered, every error becomes a 500 "failed to marshal error message").
	_ "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"

	musicv1 "music/v1"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to serve HTTP/1.1 on (port 0: any; the bound one is logged)")
	upstream := flag.String("upstream", "", "music-service's gRPC address, host:port")
	flag.Parse()
	if *upstream == "" {
		log.Fatal("grpc-gateway-peer: -upstream host:port is required")
	}

	ctx := context.Background()
	// Dialled without blocking: the first request connects, as grpc-gateway's
	// generated RegisterXHandlerFromEndpoint would; one connection for both services.
	conn, err := grpc.DialContext(ctx, *upstream, grpc.WithInsecure())
	if err != nil {
		log.Fatalf("grpc-gateway-peer: dial %s: %v", *upstream, err)
	}
	mux := runtime.NewServeMux()
	if err := musicv1.RegisterTableServiceHandler(ctx, mux, conn); err != nil {
		log.Fatalf("grpc-gateway-peer: TableService: %v", err)
	}
	if err := musicv1.RegisterItemServiceHandler(ctx, mux, conn); err != nil {
		log.Fatalf("grpc-gateway-peer: ItemService: %v", err)
	}

	listener, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatalf("grpc-gateway-peer: listen on %s: %v", *listen, err)
	}
	fmt.Fprintf(os.Stderr, "listening on %s protocol=\"http\"\n", listener.Addr())
	log.Fatal(http.Serve(listener, mux))
}
