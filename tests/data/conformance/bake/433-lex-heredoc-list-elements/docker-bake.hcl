target "default" {
  args = {
    JOINED = join("|", [
      <<EOT
one
EOT
      ,
      <<-EOT
        two
      EOT
      , "three", <<EOT
four
EOT
    ])
    LEN = length([<<EOT
x
EOT
    , <<EOT
y
EOT
    ,])
  }
}
