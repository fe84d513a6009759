import requests
assetId = "assetId of video asset"      
apiUrl = f"https://api.useapi.net/v1/runwayml/gen3/extend" 
token = "API token"
headers = {
    "Content-Type": "application/json", 
    "Authorization" : f"Bearer {token}"
}
body = {
    "assetId": f"{assetId}"
}
response = requests.post(apiUrl, headers=headers, json=body)
print(response, response.json())
