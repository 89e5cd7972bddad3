// Command linkcheck is built by TestLinkInstalls against each libwhisper
// install: it links the engine and prints libwhisper's version.
package main

import (
	"fmt"

	"github.com/earshot-dev/earshot/transcribe/whisper"
)

func main() { fmt.Println(whisper.LibVersion()) }
