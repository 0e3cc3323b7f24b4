# escape=`

FROM mcr.microsoft.com/windows/servercore:ltsc2022
SHELL ["powershell", "-Command", "$ErrorActionPreference = 'Stop';"]
COPY testfile.txt c:\
RUN dir c:\ ; `
    Write-Host done
ENV DIR=C:\tools `
    OTHER=x
WORKDIR c:\app
