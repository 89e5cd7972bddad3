package capture_test

import (
	"fmt"

	"github.com/earshot-dev/earshot/capture"
)

func ExampleParseListen() {
	addrs, err := capture.ParseListen("127.0.0.1:40000-40003,[::1]:5004")
	if err != nil {
		panic(err)
	}
	fmt.Println(addrs)
	_, err = capture.ParseListen("127.0.0.1:40010-40000")
	fmt.Println(err)
	// Output:
	// [127.0.0.1:40000 127.0.0.1:40001 127.0.0.1:40002 127.0.0.1:40003 [::1]:5004]
	// capture: listen address "127.0.0.1:40010-40000": port range 40010-40000: want 1 to 1024 ports, low to high
}
