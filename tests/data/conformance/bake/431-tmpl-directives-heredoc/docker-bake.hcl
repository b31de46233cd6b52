variable "XS" {
  default = ["a", "b"]
}
variable "DEBUG" {
  default = false
}
target "default" {
  dockerfile-inline = <<-EOT
    FROM scratch
    %{ for i, x in XS ~}
    COPY ${x} /${i}/
    %{ endfor ~}
    %{ if DEBUG }
    ENV DEBUG=1
    %{ else }
    ENV DEBUG=0
    %{ endif }
    %{~ for x in [] }
    never
    %{ endfor ~}
    LABEL a="%%{ literal }" b="$${literal}"
  EOT
  args = {
    PLAIN = <<EOT
%{ for x in XS }  - ${x}
%{ endfor }done
EOT
    KV = <<-EOT
      %{ for k, v in { b = 2, a = 1 } ~}
      ${k}=${v}
      %{ endfor ~}
    EOT
  }
}
