#!/bin/sh
printf 'HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nok\n'
