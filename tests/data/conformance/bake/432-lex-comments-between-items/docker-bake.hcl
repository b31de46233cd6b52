# hash comment
// slash comment
/* block comment */
target "default" { # after the brace
  tags = [
    "a", # hash after an item
    // a slash comment line
    "b", /* inline block */ "c",
    /* a multi
       line block */
    "d" // no trailing comma
    , "e" # comma on the next line
  ]
  args = {
    # hash
    A = "1" // trailing slash
    /* block */ B = "2"
    C = "3" /* trailing block */
    // last
  }
  labels = {
    "hash"  = "# not a comment"
    "slash" = "// not a comment"
    "block" = "/* not a comment */"
    "tmpl"  = "${"#"}${"//"} x" # a real one
  }
  platforms = [/* empty */]
}
